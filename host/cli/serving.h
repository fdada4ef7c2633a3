// What `sandhost run` and `sandhost serve` share: the log set-up and the HTTP API.
#pragma once

#include "api/server.h"
#include "config/settings.h"
#include "scheduler/host.h"
#include "scheduler/metrics.h"

#include <memory>

namespace sandhost::cli {

// The default logger as host.log says. Call once, early, from the main thread.
void configure_logging(const config::LogSettings& log);

// The API of `settings` (nullptr when api.listen is not set), on a store connection of its own
// that counts its failures in `metrics`, showing `host` if there is one. Throws
// api::ApiStartError.
std::unique_ptr<api::ApiServer> start_api(const std::shared_ptr<const config::Settings>& settings, scheduler::Host* host,
                                          const std::shared_ptr<scheduler::Metrics>& metrics);

} // namespace sandhost::cli
