#include "os/file_security.h"

#include <array>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <sys/stat.h>

namespace sandhost::os {
namespace {

FileIdentity identity_of(const struct stat& st)
{
    return {st.st_dev, st.st_ino, st.st_size, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

// `path` must be NUL-terminated. Runs before every attempt: nothing is allocated unless the
// answer is a refusal. With `identity`, the file's is kept there.
std::optional<std::string> check(const char* path, FileIdentity* identity = nullptr)
{
    struct stat st {};
    if (::stat(path, &st) != 0) return std::nullopt;
    if (identity) *identity = identity_of(st);
    const bool others = (st.st_mode & S_IWOTH) != 0;
    const bool group = (st.st_mode & S_IWGRP) != 0 && st.st_gid != 0;
    if (!others && !group) return std::nullopt;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::string(path) + " is writable by " + (others ? "every user" : "its group") + " (mode " + mode + ")";
}

// The folder as parent_path() names it ("." for a bare file name), copied to the stack.
std::optional<std::string> check_folder_of(const std::filesystem::path& library)
{
    std::string_view folder(library.native());
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

} // namespace

FileIdentity FileIdentity::of(const std::filesystem::path& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    return identity_of(st);
}

bool written_in_place(const FileIdentity& before, const FileIdentity& now)
{
    return before.inode != 0 && before.device == now.device && before.inode == now.inode && !(before == now);
}

LibraryCheck check_library(const std::filesystem::path& library)
{
    LibraryCheck result;
    result.unsafe = check(library.c_str(), &result.file);
    if (!result.unsafe) result.unsafe = check_folder_of(library);
    return result;
}

std::optional<std::string> writable_by_others(const std::filesystem::path& library) { return check_library(library).unsafe; }

} // namespace sandhost::os
