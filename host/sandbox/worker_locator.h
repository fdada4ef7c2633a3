// Where the worker executable is, found at run time: nothing about the build tree is baked in.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

namespace sandhost::sandbox {

// The file this code was loaded from: the `sandhost` executable, or the program or shared
// library a host is embedded in. Empty when the system cannot tell.
std::filesystem::path own_binary();

// Where a worker is looked for, in order, beside the binary this code is in (`dir`):
//   dir/sandhost-worker              a build tree (bin/ holds both)
//   dir/../lib/sandhost/sandhost-worker   an installed bin/sandhost
//   dir/sandhost/sandhost-worker     an installed library in lib/
std::vector<std::filesystem::path> worker_candidates(const std::filesystem::path& dir);

// SANDHOST_WORKER when set, else the first candidate beside own_binary() that is executable;
// nullopt when there is none.
std::optional<std::filesystem::path> locate_worker();

} // namespace sandhost::sandbox
