// PluginLibrary: a loaded plugin, checked against the ABI. Loaded only inside worker processes
// (and by the host itself only in the explicit no-sandbox and inline-fallback modes).
#pragma once

#include "plugin/library_loader.h"

#include <sandhost/plugin.h>

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sandhost::plugin {

class PluginLibrary {
public:
    // Loads the library at path with `loader` (every symbol bound now, none made global),
    // calls its entry point and checks the descriptor. On failure returns a message that says
    // precisely what is wrong (missing file, not a library, unresolved symbol, no entry
    // symbol, ABI version, malformed descriptor).
    static std::variant<PluginLibrary, std::string> open(const std::string& path, const LibraryLoader& loader);

    PluginLibrary(PluginLibrary&&) noexcept;
    PluginLibrary& operator=(PluginLibrary&&) noexcept;
    ~PluginLibrary();  // unloads the library

    const std::string& path() const { return m_path; }
    const char* name() const { return m_descriptor->name; }
    const char* version() const { return m_descriptor->version ? m_descriptor->version : ""; }
    std::size_t task_count() const { return m_descriptor->task_count; }
    const sh_task_t& task(std::size_t index) const { return m_descriptor->tasks[index]; }

    // The task of that name, or nullptr.
    const sh_task_t* find_task(std::string_view name) const;
    // "echo, fail, ..." for error messages.
    std::string task_names() const;

    // The optional hooks; nullptr when the plugin has none or was built before they existed.
    sh_init_fn init_hook() const;
    sh_shutdown_fn shutdown_hook() const;

private:
    PluginLibrary() = default;
    std::string m_path;
    std::unique_ptr<LoadedLibrary> m_library;
    const sh_plugin_t* m_descriptor = nullptr;
};

} // namespace sandhost::plugin
