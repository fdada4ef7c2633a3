// What the client library's parts share: a client's state, and loading a configuration with
// every error in one client::Error.
#pragma once

#include "config/load.h"
#include "config/settings.h"
#include "store/store.h"

#include <sandhost/client.hpp>

#include <memory>
#include <string>

namespace sandhost::client {

struct Client::Impl {
    std::shared_ptr<const config::Settings> settings;  // none when opened on a store URL
    std::shared_ptr<store::Store> store;

    // Runs call, turning the scheduler's and the store's exceptions into client::Error.
    template <typename Call>
    auto guarded(Call&& call) -> decltype(call());
};

} // namespace sandhost::client

// Internals shared by the library's parts, outside the exported namespaces (client.map).
namespace sandhost::client_lib {

// Loads the configuration file; throws client::Error (config) listing every error.
std::shared_ptr<const config::Settings> load_settings_or_throw(const std::string& config_file, const config::LoadOptions& options);

} // namespace sandhost::client_lib
