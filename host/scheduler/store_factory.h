// Opening the store a configuration names.
#pragma once

#include "config/store_url.h"
#include "store/store.h"

#include <memory>

namespace sandhost::scheduler {

// Who opens the store: a host creates a SQLite store's folder on its first start; a command
// does not, so a mistyped path is an error rather than a store nobody serves.
enum class StoreUser { command, host };

// sqlite: the file (created with its schema when missing). redis: refused for now with a
// StoreError saying so. Throws StoreError naming the store and the reason.
std::shared_ptr<store::Store> open_configured_store(const config::StoreUrl& url, StoreUser user = StoreUser::command);

} // namespace sandhost::scheduler
