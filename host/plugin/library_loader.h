// How a plugin library gets into the process: every symbol bound at load (an unresolved one
// fails the load, not a later call), none made global (plugins cannot see each other).
// Two implementations: dlopen (POSIX, what the Linux worker uses: it links nothing more than
// libc and libstdc++, and every library it links is paid for on every job's clock) and
// Poco::SharedLibrary (portable).
#pragma once

#include <memory>
#include <string>
#include <variant>

namespace sandhost::plugin {

// A loaded library; unloaded by the destructor.
class LoadedLibrary {
public:
    virtual ~LoadedLibrary() = default;
    // The address of an exported symbol, or nullptr.
    virtual void* find(const char* symbol) const = 0;
};

class LibraryLoader {
public:
    virtual ~LibraryLoader() = default;
    // Loads the library at path (already known to be a regular file), or says why not in
    // the loader's words (e.g. dlerror()). Not thread-safe with other loads.
    virtual std::variant<std::unique_ptr<LoadedLibrary>, std::string> load(const std::string& path) const = 0;
    virtual const char* name() const = 0;
};

// dlopen(RTLD_NOW | RTLD_LOCAL). POSIX only.
const LibraryLoader& dlopen_loader();
// Poco::SharedLibrary with SHLIB_LOCAL. Poco 1.11 always passes RTLD_LAZY, so the library is
// first opened with RTLD_NOW | RTLD_LOCAL to bind (and check) every symbol, and Poco's open
// only takes another reference. Defined in the sandhost_plugin_poco library.
const LibraryLoader& poco_loader();

} // namespace sandhost::plugin
