#include "plugin/library_loader.h"

#include <Poco/Exception.h>
#include <Poco/SharedLibrary.h>

#include <dlfcn.h>

namespace sandhost::plugin {
namespace {

class PocoLibrary final : public LoadedLibrary {
public:
    explicit PocoLibrary(std::unique_ptr<Poco::SharedLibrary> library) : m_library(std::move(library)) {}
    void* find(const char* symbol) const override { return m_library->hasSymbol(symbol) ? m_library->getSymbol(symbol) : nullptr; }

private:
    std::unique_ptr<Poco::SharedLibrary> m_library;  // unloads in its destructor
};

class PocoLoader final : public LibraryLoader {
public:
    std::variant<std::unique_ptr<LoadedLibrary>, std::string> load(const std::string& path) const override
    {
        // Poco 1.11's SharedLibrary always passes RTLD_LAZY: an unresolved function would only
        // fail when a task first called it. Bind everything now, locally, to fail the load
        // instead; Poco's own open below then only takes a reference on the loaded library.
        void* bound = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!bound) {
            const char* why = ::dlerror();
            return std::string(why ? why : "unknown dlopen error");
        }
        std::unique_ptr<Poco::SharedLibrary> library;
        try {
            library = std::make_unique<Poco::SharedLibrary>(path, Poco::SharedLibrary::SHLIB_LOCAL);
        } catch (const Poco::Exception& e) {
            ::dlclose(bound);
            return e.displayText();
        }
        ::dlclose(bound);
        return std::make_unique<PocoLibrary>(std::move(library));
    }
    const char* name() const override { return "Poco::SharedLibrary"; }
};

} // namespace

const LibraryLoader& poco_loader()
{
    static const PocoLoader loader;
    return loader;
}

} // namespace sandhost::plugin
