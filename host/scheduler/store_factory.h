// Opening the store a configuration names.
#pragma once

#include "config/settings.h"
#include "store/store.h"

#include <memory>

namespace sandhost::scheduler {

// Who opens the store: a host creates a SQLite store's folder on its first start (a command
// does not, so a mistyped path is an error rather than a store nobody serves), and checks, and
// logs a warning when, a Redis server keeps nothing across its own restart.
enum class StoreUser { command, host };

// sqlite: the file (created with its schema when missing). redis:// and unix://: the server,
// with the keys under host.store_prefix. Throws StoreError naming the store (never its
// password) and the reason.
std::shared_ptr<store::Store> open_configured_store(const config::HostSettings& host, StoreUser user = StoreUser::command);

} // namespace sandhost::scheduler
