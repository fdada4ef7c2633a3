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

// Whether the descriptor is large enough to hold `member` (read only what the plugin has).
#define SH_DESCRIPTOR_HAS(d, member) SH_HAS_FIELD(sh_plugin_t, d, member)

// The size of one entry of the descriptor's task table: task_size when the plugin records it,
// else the 1.0 entry (what every plugin built before the field existed has).
std::size_t task_stride(const sh_plugin_t& d)
{
    if (SH_DESCRIPTOR_HAS(&d, task_size) && d.task_size != 0) return d.task_size;
    return sizeof(sh_task_t);
}

const sh_task_t& task_at(const sh_plugin_t& d, std::size_t index)
{
    return *reinterpret_cast<const sh_task_t*>(reinterpret_cast<const char*>(d.tasks) + index * task_stride(d));
}

// Returns an empty string when the descriptor is usable, else what is wrong with it.
std::string check_descriptor(const sh_plugin_t* d, const std::string& path)
{
    if (!d) return "plugin " + path + ": sh_plugin_entry returned NULL";
    if (auto problem = abi_mismatch(d->abi_version)) return "plugin " + path + " was built for " + *problem;
    if (d->struct_size < SH_PLUGIN_MIN_SIZE) {
        return "plugin " + path + ": descriptor size " + std::to_string(d->struct_size) + " is smaller than the minimum " +
               std::to_string(SH_PLUGIN_MIN_SIZE);
    }
    if (SH_DESCRIPTOR_HAS(d, task_size) && d->task_size != 0 && d->task_size < sizeof(sh_task_t)) {
        return "plugin " + path + ": task entry size " + std::to_string(d->task_size) + " is smaller than the minimum " +
               std::to_string(sizeof(sh_task_t));
    }
    if (!valid_name(d->name)) return "plugin " + path + ": descriptor has a missing or invalid name";
    if (d->task_count > 0 && !d->tasks) return "plugin " + path + ": descriptor lists tasks but the table is NULL";
    for (std::size_t i = 0; i < d->task_count; ++i) {
        const sh_task_t& t = task_at(*d, i);
        if (!valid_name(t.name)) return "plugin " + path + ": task #" + std::to_string(i) + " has a missing or invalid name";
        if (!t.run) return "plugin " + path + ": task '" + t.name + "' has no function";
        for (std::size_t j = 0; j < i; ++j) {
            if (std::strcmp(task_at(*d, j).name, t.name) == 0) return "plugin " + path + ": task '" + t.name + "' is listed twice";
        }
    }
    return {};
}

} // namespace

std::string abi_version_string(std::uint32_t version)
{
    return std::to_string(SH_ABI_MAJOR(version)) + "." + std::to_string(SH_ABI_MINOR(version));
}

std::optional<std::string> abi_mismatch(std::uint32_t plugin_version, std::uint32_t host_version)
{
    if (SH_ABI_MAJOR(plugin_version) == SH_ABI_MAJOR(host_version)) return std::nullopt;
    return "plugin ABI version " + abi_version_string(plugin_version) + "; this host speaks version " + abi_version_string(host_version) +
           " and loads plugins built for " + std::to_string(SH_ABI_MAJOR(host_version)) + ".x";
}

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

const sh_task_t& PluginLibrary::task(std::size_t index) const { return task_at(*m_descriptor, index); }

const sh_task_t* PluginLibrary::find_task(std::string_view name) const
{
    for (std::size_t i = 0; i < m_descriptor->task_count; ++i) {
        if (name == task(i).name) return &task(i);
    }
    return nullptr;
}

std::string PluginLibrary::task_names() const
{
    std::string names;
    for (std::size_t i = 0; i < m_descriptor->task_count; ++i) {
        if (i) names += ", ";
        names += task(i).name;
    }
    return names.empty() ? "(none)" : names;
}

sh_init_fn PluginLibrary::init_hook() const { return SH_DESCRIPTOR_HAS(m_descriptor, init) ? m_descriptor->init : nullptr; }

sh_shutdown_fn PluginLibrary::shutdown_hook() const
{
    return SH_DESCRIPTOR_HAS(m_descriptor, shutdown) ? m_descriptor->shutdown : nullptr;
}

const void* PluginLibrary::extension(const char* id) const
{
    if (!SH_DESCRIPTOR_HAS(m_descriptor, get_extension) || !m_descriptor->get_extension || !id) return nullptr;
    return m_descriptor->get_extension(id);
}

} // namespace sandhost::plugin
