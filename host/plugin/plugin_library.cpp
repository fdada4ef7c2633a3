#include "plugin/plugin_library.h"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>

namespace sandhost::plugin {
namespace {

bool valid_name(const char* name)
{
    if (!name || !*name) return false;
    for (const char* p = name; *p; ++p) {
        const char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
    }
    return true;
}

// Returns an empty string when the descriptor is usable, else what is wrong with it.
std::string check_descriptor(const sh_plugin_t* d, const std::string& path)
{
    if (!d) return "plugin " + path + ": sh_plugin_entry returned NULL";
    if (d->abi_version != SH_ABI_VERSION) {
        return "plugin " + path + " was built for plugin ABI version " + std::to_string(d->abi_version) +
               "; this host speaks version " + std::to_string(SH_ABI_VERSION);
    }
    if (d->struct_size < SH_PLUGIN_MIN_SIZE) {
        return "plugin " + path + ": descriptor size " + std::to_string(d->struct_size) + " is smaller than the minimum " +
               std::to_string(SH_PLUGIN_MIN_SIZE);
    }
    if (!valid_name(d->name)) return "plugin " + path + ": descriptor has a missing or invalid name";
    if (d->task_count > 0 && !d->tasks) return "plugin " + path + ": descriptor lists tasks but the table is NULL";
    for (std::size_t i = 0; i < d->task_count; ++i) {
        const sh_task_t& t = d->tasks[i];
        if (!valid_name(t.name)) return "plugin " + path + ": task #" + std::to_string(i) + " has a missing or invalid name";
        if (!t.run) return "plugin " + path + ": task '" + t.name + "' has no function";
        for (std::size_t j = 0; j < i; ++j) {
            if (std::strcmp(d->tasks[j].name, t.name) == 0) return "plugin " + path + ": task '" + t.name + "' is listed twice";
        }
    }
    return {};
}

} // namespace

std::variant<PluginLibrary, std::string> PluginLibrary::open(const std::string& path, const LibraryLoader& loader)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return "plugin library " + path + " cannot be opened: " + std::strerror(errno);
    }
    if (!S_ISREG(st.st_mode)) return "plugin library " + path + " is not a regular file";

    auto loaded = loader.load(path);
    if (auto* why = std::get_if<std::string>(&loaded)) return "plugin library " + path + " cannot be loaded: " + *why;
    PluginLibrary library;
    library.m_path = path;
    library.m_library = std::move(std::get<std::unique_ptr<LoadedLibrary>>(loaded));

    void* symbol = library.m_library->find(SH_ENTRY_SYMBOL);
    if (!symbol) return "not a sandhost plugin: " + path + " does not export " + SH_ENTRY_SYMBOL;
    auto entry = reinterpret_cast<sh_entry_fn>(symbol);
    library.m_descriptor = entry();
    if (std::string problem = check_descriptor(library.m_descriptor, path); !problem.empty()) return problem;
    return library;
}

PluginLibrary::PluginLibrary(PluginLibrary&&) noexcept = default;
PluginLibrary& PluginLibrary::operator=(PluginLibrary&&) noexcept = default;
PluginLibrary::~PluginLibrary() = default;

const sh_task_t* PluginLibrary::find_task(std::string_view name) const
{
    for (std::size_t i = 0; i < m_descriptor->task_count; ++i) {
        if (name == m_descriptor->tasks[i].name) return &m_descriptor->tasks[i];
    }
    return nullptr;
}

std::string PluginLibrary::task_names() const
{
    std::string names;
    for (std::size_t i = 0; i < m_descriptor->task_count; ++i) {
        if (i) names += ", ";
        names += m_descriptor->tasks[i].name;
    }
    return names.empty() ? "(none)" : names;
}

sh_init_fn PluginLibrary::init_hook() const
{
    if (m_descriptor->struct_size < offsetof(sh_plugin_t, init) + sizeof(sh_init_fn)) return nullptr;
    return m_descriptor->init;
}

sh_shutdown_fn PluginLibrary::shutdown_hook() const
{
    if (m_descriptor->struct_size < offsetof(sh_plugin_t, shutdown) + sizeof(sh_shutdown_fn)) return nullptr;
    return m_descriptor->shutdown;
}

} // namespace sandhost::plugin
