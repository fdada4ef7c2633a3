// What every handler of the API shares: the options it was started with, the settings as last
// reloaded, the event hub and the count of open event streams. Internal to the API.
#pragma once

#include "api/event_hub.h"
#include "api/server.h"

#include <atomic>
#include <memory>
#include <mutex>

namespace sandhost::api {

class Context {
public:
    explicit Context(ApiOptions given)
        : options(std::move(given)), hub(*options.store, options.event_poll), m_settings(options.settings)
    {
    }

    std::shared_ptr<const config::Settings> settings() const
    {
        std::lock_guard lock(m_mutex);
        return m_settings;
    }
    void set_settings(std::shared_ptr<const config::Settings> settings)
    {
        std::lock_guard lock(m_mutex);
        m_settings = std::move(settings);
    }
    store::Store& store() { return *options.store; }

    const ApiOptions options;
    EventHub hub;
    std::atomic<unsigned> event_streams{0};
    const model::TimePoint started_at = std::chrono::system_clock::now();

private:
    mutable std::mutex m_mutex;
    std::shared_ptr<const config::Settings> m_settings;
};

} // namespace sandhost::api
