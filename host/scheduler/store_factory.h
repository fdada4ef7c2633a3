// Opening the store a configuration names.
#pragma once

#include "config/store_url.h"
#include "store/store.h"

#include <memory>

namespace sandhost::scheduler {

// sqlite: the file (created with its schema when missing). redis: refused for now with a
// StoreError saying so. Throws StoreError naming the store and the reason.
std::shared_ptr<store::Store> open_configured_store(const config::StoreUrl& url);

} // namespace sandhost::scheduler
