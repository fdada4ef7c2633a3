#include "scheduler/store_factory.h"

#include "store/sqlite_store.h"

namespace sandhost::scheduler {

std::shared_ptr<store::Store> open_configured_store(const config::StoreUrl& url, StoreUser user)
{
    if (const auto* sqlite = std::get_if<config::SqliteStore>(&url)) {
        store::SqliteOptions options;
        options.create_folder = user == StoreUser::host;
        return store::open_sqlite_store(sqlite->path, options);
    }
    throw store::StoreError("the Redis store (" + config::to_string(url) + ") is not available in this version; use sqlite:PATH");
}

} // namespace sandhost::scheduler
