// Embedding: the sandbox and the host behind small value types of the public header.
#include "client/client_impl.h"

#include "sandbox/sandbox.h"
#include "sandbox/worker_locator.h"
#include "scheduler/event_log.h"
#include "scheduler/host.h"
#include "scheduler/store_factory.h"

#include <sandhost/embed.hpp>

#include <condition_variable>
#include <mutex>

namespace sandhost::embed {
namespace {

using client::Error;

model::SandboxSettings to_model(const AttemptSettings& settings)
{
    model::SandboxSettings s;
    switch (settings.isolation) {
    case Isolation::spawn: s.mode = model::Mode::spawn; break;
    case Isolation::fork: s.mode = model::Mode::fork; break;
    case Isolation::reuse: s.mode = model::Mode::reuse; break;
    case Isolation::none: s.enabled = false; break;
    }
    s.timeout = settings.timeout;
    s.startup_timeout = settings.startup_timeout;
    s.grace = settings.grace;
    s.limits.memory_bytes = settings.limits.memory_bytes;
    s.limits.cpu = settings.limits.cpu;
    s.limits.open_files = settings.limits.open_files;
    s.limits.file_size_bytes = settings.limits.file_size_bytes;
    s.limits.processes = settings.limits.processes;
    s.limits.output_bytes = settings.limits.output_bytes;
    s.max_result_bytes = settings.max_result_bytes;
    if (settings.inline_fallback) s.fallback = model::Fallback::inline_run;
    return s;
}

AttemptResult to_result(const model::Outcome& o)
{
    AttemptResult r;
    r.outcome = model::to_string(o.kind);
    if (o.succeeded()) r.result = o.result;
    if (!o.error.empty()) r.error = o.error;
    r.permanent = o.permanent;
    r.signal_number = o.signal_number;
    r.exit_code = o.exit_code;
    if (o.limit) r.limit = model::to_string(*o.limit);
    r.duration = o.duration;
    r.pid = o.pid;
    r.json = model::to_json(o);
    return r;
}

} // namespace

struct Cancel::Impl {
    sandbox::CancelToken token;
};

Cancel::Cancel() : m_impl(std::make_unique<Impl>()) {}
Cancel::~Cancel() = default;
void Cancel::request() noexcept { m_impl->token.request(); }

struct Sandbox::Impl {
    sandbox::Sandbox sandbox;
};

Sandbox::Sandbox() : m_impl(std::make_unique<Impl>()) {}
Sandbox::~Sandbox() = default;

AttemptResult Sandbox::run_attempt(const std::string& plugin, const std::string& task, const std::string& payload,
                                   const AttemptSettings& settings, Cancel* cancel)
{
    std::vector<std::filesystem::path> dirs(settings.plugin_dirs.begin(), settings.plugin_dirs.end());
    if (dirs.empty()) dirs = sandbox::shipped_plugin_dirs();
    const auto library = sandbox::resolve_plugin(plugin, dirs);
    if (!library) {
        model::Outcome missing;
        missing.kind = model::OutcomeKind::load_failed;
        missing.error = "no plugin named '" + plugin + "' in the plugin directories";
        return to_result(missing);
    }
    sandbox::AttemptSpec spec;
    spec.plugin_path = *library;
    spec.task = task;
    spec.payload = payload;
    spec.settings = to_model(settings);
    return to_result(m_impl->sandbox.run_attempt(spec, nullptr, cancel ? &cancel->m_impl->token : nullptr));
}

struct Host::Impl {
    std::string config_file;
    std::shared_ptr<const config::Settings> settings;
    std::shared_ptr<store::Store> store;
    std::mutex mutex;  // guards the three below
    std::condition_variable run_ended;
    scheduler::Host* running = nullptr;
    bool stop_requested = false;

    std::shared_ptr<const config::Settings> load() const
    {
        config::LoadOptions options;
        options.default_plugin_dirs = sandbox::shipped_plugin_dirs();
        sandbox::Sandbox describer;
        options.catalog = [&describer](const std::vector<std::filesystem::path>& dirs) { return describer.scan_plugins(dirs); };
        return client_lib::load_settings_or_throw(config_file, options);
    }
};

Host::Host(const std::string& config_file) : m_impl(std::make_unique<Impl>())
{
    m_impl->config_file = config_file;
    m_impl->settings = m_impl->load();
    try {
        m_impl->store = scheduler::open_configured_store(m_impl->settings->host, scheduler::StoreUser::host);
    } catch (const std::exception& e) {
        throw Error(Error::Kind::store, std::string("cannot open the store: ") + e.what());
    }
}

Host::~Host()
{
    stop();
    std::unique_lock lock(m_impl->mutex);
    m_impl->run_ended.wait(lock, [&] { return m_impl->running == nullptr; });
}

void Host::run(std::chrono::milliseconds drain)
{
    scheduler::configure_logging(m_impl->settings->host.log);
    scheduler::HostOptions options;
    options.drain = drain;
    scheduler::Host host(m_impl->settings, m_impl->store, options);
    {
        std::lock_guard lock(m_impl->mutex);
        m_impl->running = &host;
        if (m_impl->stop_requested) host.stop();
    }
    auto ended = [&] {
        std::lock_guard lock(m_impl->mutex);
        m_impl->running = nullptr;
        m_impl->run_ended.notify_all();
    };
    try {
        host.run();
    } catch (const store::StoreError& e) {
        ended();
        throw Error(Error::Kind::store, e.what());
    } catch (...) {
        ended();
        throw;
    }
    ended();
}

void Host::stop()
{
    std::lock_guard lock(m_impl->mutex);
    m_impl->stop_requested = true;
    if (m_impl->running) m_impl->running->stop();
}

void Host::reload()
{
    auto settings = m_impl->load();
    std::lock_guard lock(m_impl->mutex);
    m_impl->settings = settings;
    if (m_impl->running) m_impl->running->reload(std::move(settings));
}

} // namespace sandhost::embed
