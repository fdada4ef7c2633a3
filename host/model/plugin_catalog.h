// What the plugin directories hold: every library found, each described by loading it in a
// worker process (its init hook is not run). Plain data: the sandbox fills it, hosts publish
// it to the store, enqueue checks task names against it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sandhost::model {

struct TaskInfo {
    std::string name;
    std::string description;
};

struct PluginInfo {
    std::string name;               // the descriptor's name (the file stem when the load failed)
    std::filesystem::path path;     // the library file
    std::string version;
    std::vector<TaskInfo> tasks;
    std::string error;              // non-empty: the library could not be loaded, and why

    bool ok() const { return error.empty(); }
    bool has_task(const std::string& task) const
    {
        for (const auto& t : tasks) {
            if (t.name == task) return true;
        }
        return false;
    }
};

struct PluginCatalog {
    std::vector<std::filesystem::path> dirs;
    std::vector<PluginInfo> plugins;   // sorted by name

    // The loadable plugin of that name, or nullptr.
    const PluginInfo* find(const std::string& name) const
    {
        for (const auto& p : plugins) {
            if (p.name == name && p.ok()) return &p;
        }
        return nullptr;
    }
};

// One plugin as JSON: {"name", "path", "version", "tasks": [{"name", "description"}], and
// "error" when it cannot be loaded}.
std::string to_json(const PluginInfo& plugin);

// The catalog as JSON ({"dirs": [...], "plugins": [{"name", "path", "version", "tasks":
// [{"name", "description"}], "error"}]}), and back; nullopt when the text is not such a
// catalog.
std::string to_json(const PluginCatalog& catalog);
std::optional<PluginCatalog> catalog_from_json(const std::string& json);

} // namespace sandhost::model
