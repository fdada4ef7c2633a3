#include "sandbox/worker_locator.h"

#include <cstdlib>
#include <dlfcn.h>
#include <unistd.h>

namespace sandhost::sandbox {

std::filesystem::path own_binary()
{
    Dl_info info{};
    // The address of a function of this library resolves to the object that holds it.
    if (::dladdr(reinterpret_cast<const void*>(&own_binary), &info) == 0 || !info.dli_fname || !*info.dli_fname) return {};
    std::error_code ec;
    auto path = std::filesystem::canonical(info.dli_fname, ec);
    if (!ec) return path;
    // A statically linked executable names itself as argv[0] may have it: /proc knows better.
    path = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path() : path;
}

std::vector<std::filesystem::path> worker_candidates(const std::filesystem::path& dir)
{
    return {dir / "sandhost-worker", (dir / ".." / "lib" / "sandhost" / "sandhost-worker").lexically_normal(),
            dir / "sandhost" / "sandhost-worker", (dir / ".." / "bin" / "sandhost-worker").lexically_normal()};
}

std::optional<std::filesystem::path> locate_worker()
{
    if (const char* path = std::getenv("SANDHOST_WORKER"); path && *path) return std::filesystem::path(path);
    const auto binary = own_binary();
    if (binary.empty()) return std::nullopt;
    for (const auto& candidate : worker_candidates(binary.parent_path())) {
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
}

std::vector<std::filesystem::path> shipped_plugin_dirs()
{
    const auto binary = own_binary();
    if (binary.empty()) return {};
    const auto dir = binary.parent_path();
    std::vector<std::filesystem::path> dirs;
    for (const auto& candidate : {dir / ".." / "plugins", dir / ".." / "lib" / "sandhost" / "plugins", dir / "sandhost" / "plugins"}) {
        std::error_code ec;
        if (std::filesystem::is_directory(candidate, ec)) dirs.push_back(candidate.lexically_normal());
    }
    return dirs;
}

} // namespace sandhost::sandbox
