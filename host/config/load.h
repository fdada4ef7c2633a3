// Reading a configuration file: YAML in, resolved Settings or the complete list of errors out.
//
// The loader checks everything it can in one pass and reports every problem with its
// position: YAML syntax (yaml-cpp's position), duplicate keys, unknown keys (with a
// did-you-mean), types, units, ranges, enums, store URLs, cron expressions, `${VAR}`
// references, `include:` files, queues or schedules defined twice, and, when a catalog
// provider is given, every task reference against the plugins actually found.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "config/config_error.h"
#include "config/settings.h"
#include "config/variables.h"
#include "model/plugin_catalog.h"

namespace sandhost::config {

// Describes the plugins found in the given (absolute) directories. Called at most once per
// load, after host.plugin_dirs is read. May throw; the loader reports what() as an error.
using CatalogProvider =
    std::function<model::PluginCatalog(const std::vector<std::filesystem::path>& plugin_dirs)>;

enum class Includes {
    follow,  // read the files `include:` names
    refuse,  // report each `include:` entry as an error without touching the file system
};

// What the process that will run the workers can grant them. Given, the loader refuses a
// setting it cannot apply, where the setting is written, instead of every attempt of that
// queue failing to start later.
struct WorkerRights {
    bool switch_user = false;        // user:, group: (CAP_SETUID and CAP_SETGID)
    bool network_namespace = false;  // network: none (CAP_SYS_ADMIN, network namespaces)
    bool mount_namespace = false;    // filesystem read_only and hide (CAP_SYS_ADMIN, mount namespaces)
};

struct LoadOptions {
    EnvLookup env = process_environment;
    // Empty: task references are only checked for their form (`plugin.task`, `plugin.*`).
    CatalogProvider catalog;
    Includes includes = Includes::follow;
    // host.plugin_dirs of a configuration that sets none: the plugins shipped with sandhost, as
    // the caller finds them (sandbox::shipped_plugin_dirs).
    std::vector<std::filesystem::path> default_plugin_dirs;
    // Unset: privilege settings are checked for their form only (a user or group must exist).
    std::optional<WorkerRights> rights;
};

struct LoadResult {
    std::shared_ptr<const Settings> settings;  // set exactly when errors is empty
    std::vector<ConfigError> errors;           // by file (load order), then line, then column

    bool ok() const { return settings != nullptr; }
};

// Files larger than this are refused before parsing (a config is a few KiB).
inline constexpr std::size_t k_max_config_bytes = 1 << 20;
// Collections nested deeper than this are refused while parsing: it bounds the recursion of
// yaml-cpp's parser (which otherwise overflows the stack on deeply nested flow collections)
// and of everything here that walks the tree.
inline constexpr int k_max_yaml_depth = 64;

// Reads and checks `file` and the files it includes. Blocks on file reads and on the catalog
// provider. Never throws for a problem in the configuration.
LoadResult load_config(const std::filesystem::path& file, const LoadOptions& options = {});

// The same for text already in memory (tests, fuzzing): `file` names it in errors, and relative
// paths and includes resolve against its directory.
LoadResult load_config_text(std::string_view text, const std::filesystem::path& file,
                            const LoadOptions& options = {});

// load_config for callers that stop at the first bad file: throws ConfigLoadError.
std::shared_ptr<const Settings> load_config_or_throw(const std::filesystem::path& file,
                                                     const LoadOptions& options = {});

} // namespace sandhost::config
