// The HTTP API, the dashboard and /metrics of one process: `sandhost run` serves them beside its
// host, `sandhost serve` alone. Poco::Net's HTTP server on a bounded pool of threads of its own:
// a slow or stalled client holds one of those threads (until a socket timeout), never the
// host's. Every call reads the store through the API's own store connection; a running host
// lends only its counters, workers and broken-plugin record.
#pragma once

#include "config/settings.h"
#include "scheduler/host.h"
#include "scheduler/metrics.h"
#include "store/store.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace sandhost::api {

// The API could not start: the address is taken or cannot be bound, the TLS files do not load,
// or the address is not loopback and no token is set. The message names the address and why.
class ApiStartError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ApiOptions {
    std::shared_ptr<const config::Settings> settings;  // api.listen must be set
    // The API's own connection (a store object of its own, so that a long read never holds
    // the host's calls): every job, queue, host and event it shows comes from here.
    std::shared_ptr<store::Store> store;
    // The host this process runs, if any; it must outlive the server.
    scheduler::Host* host = nullptr;
    // What this process counts (the host's, when there is one).
    std::shared_ptr<scheduler::Metrics> metrics;
    unsigned max_threads = 16;           // connections served at once; more wait in a queue
    unsigned max_event_streams = 8;      // /api/v1/events streams at once; more get 503
    model::Duration socket_timeout = std::chrono::seconds(30);  // a client silent this long is dropped
    model::Duration event_poll = std::chrono::milliseconds(100);  // how often new events are read from the store
};

class ApiServer {
public:
    // Binds api.listen and starts serving: returns once connections are accepted. Throws
    // ApiStartError.
    explicit ApiServer(ApiOptions options);
    // stop()
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    // The port bound (the one chosen when api.listen asked for port 0).
    std::uint16_t port() const;
    // "http://HOST:PORT" or "https://...", for log lines and tests.
    std::string url() const;

    // Thread-safe. Queues, schedules and the token the API shows and checks from now on; the
    // listen address and TLS files stay as they were at start (a warning says so).
    void reload(std::shared_ptr<const config::Settings> settings);

    // Ends every event stream, closes every connection and joins the server's threads.
    // Idempotent.
    void stop();

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

} // namespace sandhost::api
