// What the job commands share: the configuration named by --config, and its store.
#pragma once

#include "cli/args.h"
#include "config/load.h"
#include "config/settings.h"
#include "store/store.h"

#include <memory>

namespace sandhost::sandbox {
class Sandbox;
}

namespace sandhost::cli {

struct HostContext {
    std::shared_ptr<const config::Settings> settings;
    std::shared_ptr<store::Store> store;
};

// The --config option every job command takes.
OptionSpec config_option();

// The file --config names (else $SANDHOST_CONFIG); UsageError when neither is given.
std::string config_file(const ParsedArgs& args);

// How a host (and `validate`) loads its configuration: the shipped plugin dirs by default, task
// names checked against the plugins `scanner` finds (when not null), and every privilege setting
// this process could not grant its workers refused where it is written.
config::LoadOptions host_load_options(sandbox::Sandbox* scanner);

// Loads --config (else $SANDHOST_CONFIG). An invalid file throws ConfigInvalid after printing
// every error; a missing option throws UsageError. `as_host`: with host_load_options (the
// commands that only read or write the store, perhaps as another user, check the form alone).
std::shared_ptr<const config::Settings> load_settings(const ParsedArgs& args, bool as_host);
HostContext open_host_context(const ParsedArgs& args);

// The configuration is invalid; its errors are already printed. Exit status 2.
class ConfigInvalid : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The named queue of the configuration, or UsageError listing the queues (with a did-you-mean).
const config::QueueSettings& require_queue(const config::Settings& settings, const std::string& name);

} // namespace sandhost::cli
