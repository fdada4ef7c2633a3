// The state of one load_config call and the steps it takes, shared by the files that define
// them: load.cpp (reading files, the top level, the plugin and task checks, the result),
// load_host.cpp, load_sandbox.cpp, load_queues.cpp, load_schedules.cpp (the sections) and
// load_include.cpp (`include:`). Internal to config.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/field_reader.h"
#include "config/load.h"
#include "config/settings.h"
#include "config/yaml_tree.h"
#include "model/plugin_catalog.h"

namespace sandhost::config {

// Reads one configuration file and the files it includes into Settings, collecting every
// error. Used once: construct, load, discard.
class Loader : private FieldReader {
public:
    // `options` must outlive the loader.
    explicit Loader(const LoadOptions& options) : FieldReader(options.env), m_options(options) {}

    // Reads `file` (or `*text`, named `file`, when text is not null). Blocks on file reads and
    // the catalog provider; never throws for a problem in the configuration.
    LoadResult load(const std::filesystem::path& file, const std::string_view* text);

private:
    // A task pattern a queue allows, kept for the check against the plugins found.
    struct PatternUse {
        TaskPattern pattern;
        SourceLocation at;
    };

    // A schedule as read, with what the checks after reading need to know about it.
    struct ScheduleDraft {
        ScheduleSettings settings;
        bool has_queue = false;
        bool has_task = false;
        SourceLocation queue_at;
        SourceLocation task_at;
    };

    // load.cpp
    // The whole file, or nullopt after reporting why not (at `from`, naming the include
    // `pattern`, for an included file).
    std::optional<std::string> read_file(const std::filesystem::path& path, const SourceLocation* from,
                                         std::string_view pattern);
    // Makes `file` the one positions and relative paths refer to.
    void enter_file(const std::filesystem::path& file);
    // The top-level keys of a file; an included file may not hold host or sandbox.
    void read_file_body(const YamlNode& root, bool included);
    void check_tasks();
    void check_task(const model::PluginCatalog& catalog, const std::string& plugin, const std::string& task,
                    const std::string& text, const SourceLocation& at);
    void check_schedules();
    // The errors sorted by file (load order) and position, or the settings when there are none.
    LoadResult finish();

    // load_host.cpp: defaults first, so a missing host: still sets the store and the name.
    void read_host(const YamlEntry* entry);
    // load_api.cpp
    void read_api(const YamlEntry& entry);
    // load_sandbox.cpp: the host's sandbox, or a queue's over a copy of the host's.
    void read_sandbox(const YamlNode& map, const std::string& path, model::SandboxSettings& out);
    // user, group, environment, no_new_privileges, capabilities, network, syscalls, filesystem: each key
    // present replaces what `out` had (a queue's over the host's).
    void read_privileges(const FieldReader::Section& fields, const std::string& path, model::Privileges& out);
    void read_syscalls(const YamlEntry& entry, const std::string& path, model::SyscallSettings& out);
    // workdir, read_only, hide: each key present replaces what `out` had.
    void read_filesystem(const YamlNode& map, const std::string& path, model::FilesystemSettings& out);
    // A scalar naming a path that exists here, made absolute (relative to the file) and
    // normal; nullopt after reporting why not (`key` starts the report).
    std::optional<std::string> existing_path(const YamlNode& node, std::string_view key, std::string_view expected);
    // load_queues.cpp
    void read_queues(const YamlEntry& entry);
    void read_queue(const YamlEntry& entry);
    void read_retry(const YamlNode& map, const std::string& path, RetryPolicy& out);
    // A state named here replaces that state's limit in `out` as a whole.
    void read_retention(const YamlNode& map, const std::string& path, model::Retention& out);
    // load_schedules.cpp
    void read_schedules(const YamlEntry& entry);
    void read_schedule(const YamlNode& map, std::size_t index);
    // load_include.cpp
    void read_includes(const YamlEntry& entry);
    void load_included(const std::filesystem::path& path, const SourceLocation& from, std::string_view pattern);

    const LoadOptions& m_options;
    std::filesystem::path m_dir;  // the directory of m_file, absolute: relative paths in it resolve here
    std::vector<std::filesystem::path> m_files;  // in load order, for sorting errors
    std::map<std::filesystem::path, std::filesystem::path> m_loaded;  // canonical -> as named

    Settings m_settings;
    std::optional<SourceLocation> m_plugin_dirs_at;
    std::map<std::string, QueueSettings> m_queues;
    std::vector<PatternUse> m_patterns;
    std::vector<ScheduleDraft> m_schedules;
    std::map<std::string, SourceLocation> m_schedule_names;
};

} // namespace sandhost::config
