// Whether a file someone else could replace is about to be trusted: a plugin library, or the
// folder it sits in, that users other than its owner and root may write.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace sandhost::os {

// Why `library` must not be trusted: "PATH is writable by others (mode 0777)" for the file
// itself or its folder (not the folders above); nullopt when neither is writable by anyone but
// its owner and root (group root may write). A file that cannot be examined is not reported:
// loading it fails on its own.
std::optional<std::string> writable_by_others(const std::filesystem::path& library);

} // namespace sandhost::os
