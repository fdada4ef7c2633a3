// Opening the store a configuration names.
#pragma once

#include "config/settings.h"
#include "store/store.h"

#include <memory>

namespace sandhost::scheduler {

// Who opens the store: a host checks, and logs a warning when, the server keeps nothing
// across its own restart; a command does not.
enum class StoreUser { command, host };

// sqlite: the file (created with its schema when missing). redis:// and unix://: the server,
// with the keys under host.store_prefix. Throws StoreError naming the store (never its
// password) and the reason.
std::shared_ptr<store::Store> open_configured_store(const config::HostSettings& host, StoreUser user = StoreUser::command);

} // namespace sandhost::scheduler
