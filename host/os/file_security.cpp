#include "os/file_security.h"

#include <array>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <sys/stat.h>

namespace sandhost::os {
namespace {

// `path` must be NUL-terminated. Runs before every attempt: nothing is allocated unless the
// answer is a refusal.
std::optional<std::string> check(const char* path)
{
    struct stat st {};
    if (::stat(path, &st) != 0) return std::nullopt;
    const bool others = (st.st_mode & S_IWOTH) != 0;
    const bool group = (st.st_mode & S_IWGRP) != 0 && st.st_gid != 0;
    if (!others && !group) return std::nullopt;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::string(path) + " is writable by " + (others ? "every user" : "its group") + " (mode " + mode + ")";
}

} // namespace

std::optional<std::string> writable_by_others(const std::filesystem::path& library)
{
    const std::string& file = library.native();
    if (auto why = check(file.c_str())) return why;
    // The folder as parent_path() names it ("." for a bare file name), copied to the stack.
    std::string_view folder(file);
    const auto slash = folder.find_last_of('/');
    if (slash == std::string_view::npos) return check(".");
    folder = folder.substr(0, slash);
    while (!folder.empty() && folder.back() == '/') folder.remove_suffix(1);
    if (folder.empty()) return check("/");
    std::array<char, PATH_MAX> buffer{};
    if (folder.size() >= buffer.size()) return check(library.parent_path().c_str());
    std::memcpy(buffer.data(), folder.data(), folder.size());
    return check(buffer.data());
}

} // namespace sandhost::os
