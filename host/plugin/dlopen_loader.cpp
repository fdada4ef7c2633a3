#include "plugin/library_loader.h"

#include <dlfcn.h>

namespace sandhost::plugin {
namespace {

class DlopenLibrary final : public LoadedLibrary {
public:
    explicit DlopenLibrary(void* handle) : m_handle(handle) {}
    ~DlopenLibrary() override { ::dlclose(m_handle); }
    void* find(const char* symbol) const override { return ::dlsym(m_handle, symbol); }

private:
    void* m_handle;
};

class DlopenLoader final : public LibraryLoader {
public:
    std::variant<std::unique_ptr<LoadedLibrary>, std::string> load(const std::string& path) const override
    {
        void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* why = ::dlerror();
            return std::string(why ? why : "unknown dlopen error");
        }
        return std::make_unique<DlopenLibrary>(handle);
    }
    const char* name() const override { return "dlopen"; }
};

} // namespace

const LibraryLoader& dlopen_loader()
{
    static const DlopenLoader loader;
    return loader;
}

} // namespace sandhost::plugin
