// What the job commands share: the configuration named by --config, and its store.
#pragma once

#include "cli/args.h"
#include "config/settings.h"
#include "store/store.h"

#include <memory>

namespace sandhost::cli {

struct HostContext {
    std::shared_ptr<const config::Settings> settings;
    std::shared_ptr<store::Store> store;
};

// The --config option every job command takes.
OptionSpec config_option();

// The file --config names (else $SANDHOST_CONFIG); UsageError when neither is given.
std::string config_file(const ParsedArgs& args);

// Loads --config (else $SANDHOST_CONFIG). An invalid file throws ConfigInvalid after printing
// every error; a missing option throws UsageError. Plugins are checked only when `check_plugins`.
std::shared_ptr<const config::Settings> load_settings(const ParsedArgs& args, bool check_plugins);
HostContext open_host_context(const ParsedArgs& args);

// The configuration is invalid; its errors are already printed. Exit status 2.
class ConfigInvalid : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The named queue of the configuration, or UsageError listing the queues (with a did-you-mean).
const config::QueueSettings& require_queue(const config::Settings& settings, const std::string& name);

} // namespace sandhost::cli
