// Where the worker executable and the plugins shipped with sandhost are, found at run time:
// nothing about the build tree or the install prefix is baked in.
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
//   dir/../bin/sandhost-worker       a library in a build tree's lib/
std::vector<std::filesystem::path> worker_candidates(const std::filesystem::path& dir);

// SANDHOST_WORKER when set, else the first candidate beside own_binary() that is executable;
// nullopt when there is none.
std::optional<std::filesystem::path> locate_worker();

// The folders of the plugins shipped with sandhost, beside own_binary() (`dir`), those that
// exist: dir/../plugins (a build tree), dir/../lib/sandhost/plugins (an installed bin/sandhost),
// dir/sandhost/plugins (an installed library in lib/). Empty when there is none.
std::vector<std::filesystem::path> shipped_plugin_dirs();

} // namespace sandhost::sandbox
