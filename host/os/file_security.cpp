#include "os/file_security.h"

#include <cstdio>
#include <sys/stat.h>

namespace sandhost::os {
namespace {

std::optional<std::string> check(const std::filesystem::path& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    const bool others = (st.st_mode & S_IWOTH) != 0;
    const bool group = (st.st_mode & S_IWGRP) != 0 && st.st_gid != 0;
    if (!others && !group) return std::nullopt;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return path.string() + " is writable by " + (others ? "every user" : "its group") + " (mode " + mode + ")";
}

} // namespace

std::optional<std::string> writable_by_others(const std::filesystem::path& library)
{
    if (auto why = check(library)) return why;
    return check(library.parent_path().empty() ? std::filesystem::path(".") : library.parent_path());
}

} // namespace sandhost::os
