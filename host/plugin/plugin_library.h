// PluginLibrary: a loaded plugin, checked against the ABI. Loaded only inside worker processes
// (and by the host itself only in the explicit no-sandbox and inline-fallback modes).
#pragma once

#include "plugin/library_loader.h"

#include <sandhost/plugin.h>

#include <cstdint>
#include <memory>
#include <optional>
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
    // symbol, another major ABI version, malformed descriptor). A plugin of the host's major
    // version loads whatever its minor: only the fields its descriptor has are read.
    static std::variant<PluginLibrary, std::string> open(const std::string& path, const LibraryLoader& loader);

    PluginLibrary(PluginLibrary&&) noexcept;
    PluginLibrary& operator=(PluginLibrary&&) noexcept;
    ~PluginLibrary();  // unloads the library

    const std::string& path() const { return m_path; }
    const char* name() const { return m_descriptor->name; }
    const char* version() const { return m_descriptor->version ? m_descriptor->version : ""; }
    std::size_t task_count() const { return m_descriptor->task_count; }
    // The task at index < task_count(), read with the plugin's own entry size.
    const sh_task_t& task(std::size_t index) const;

    // The task of that name, or nullptr.
    const sh_task_t* find_task(std::string_view name) const;
    // "echo, fail, ..." for error messages.
    std::string task_names() const;

    // The optional hooks; nullptr when the plugin has none or was built before they existed.
    sh_init_fn init_hook() const;
    sh_shutdown_fn shutdown_hook() const;
    // The plugin's own capability of that id (its get_extension), or nullptr when it has none
    // or was built before the lookup existed. Any thread.
    const void* extension(const char* id) const;

private:
    PluginLibrary() = default;
    std::string m_path;
    std::unique_ptr<LoadedLibrary> m_library;
    const sh_plugin_t* m_descriptor = nullptr;
};

// "MAJOR.MINOR" of an ABI version (SH_ABI_MAKE_VERSION).
std::string abi_version_string(std::uint32_t version);

// Why a host speaking host_version refuses a plugin built for plugin_version ("plugin ABI
// version 2.0; this host speaks version 1.0 and loads plugins built for 1.x"), or nullopt when
// it loads it: the majors are equal, whatever the minors.
std::optional<std::string> abi_mismatch(std::uint32_t plugin_version, std::uint32_t host_version = SH_ABI_VERSION);

} // namespace sandhost::plugin
