#include "sandbox/inline_runner.h"

#include "plugin/plugin_library.h"
#include "plugin/task_call.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

// Libraries loaded into the host are never unloaded: an abandoned task thread may still run
// their code.
struct LoadedPlugins {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<plugin::PluginLibrary>> libraries;
};
LoadedPlugins& loaded_plugins()
{
    static auto* const plugins = new LoadedPlugins();
    return *plugins;
}

// State shared between the attempt and its task thread (which may outlive the attempt).
struct InlineCall final : plugin::TaskSink {
    std::mutex mutex;
    std::condition_variable finished_cv;
    bool finished = false;
    plugin::TaskReport report;
    std::atomic<bool> cancel{false};
    std::optional<model::ProgressReport> last_progress;
    AttemptObserver* observer = nullptr;  // cleared when the attempt stops listening

    void log(sh_log_level_t level, std::string_view message) override
    {
        std::lock_guard lock(mutex);
        if (observer) observer->on_log(level, message);
    }
    void progress(double percent, std::string_view message) override
    {
        std::lock_guard lock(mutex);
        last_progress = model::ProgressReport{percent, std::string(message)};
        if (observer) observer->on_progress(*last_progress);
    }
    void heartbeat() override
    {
        std::lock_guard lock(mutex);
        if (observer) observer->on_heartbeat();
    }
    bool poll_cancel() override { return cancel.load(); }
};

} // namespace

model::Outcome run_inline(const AttemptSpec& spec, AttemptObserver* observer, CancelToken* cancel)
{
    const auto started = Clock::now();
    model::Outcome outcome;
    outcome.isolation = "none";
    outcome.pid = ::getpid();
    outcome.started_at = std::chrono::system_clock::now();
    auto finish = [&](model::Outcome o) {
        o.isolation = outcome.isolation;
        o.pid = outcome.pid;
        o.started_at = outcome.started_at;
        o.ended_at = std::chrono::system_clock::now();
        o.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        return o;
    };

    std::shared_ptr<plugin::PluginLibrary> library;
    {
        auto& plugins = loaded_plugins();
        std::lock_guard lock(plugins.mutex);
        auto& slot = plugins.libraries[spec.plugin_path.string()];
        if (!slot) {
            auto opened = plugin::PluginLibrary::open(spec.plugin_path.string(), plugin::poco_loader());
            if (auto* message = std::get_if<std::string>(&opened)) {
                plugins.libraries.erase(spec.plugin_path.string());
                model::Outcome o;
                o.kind = model::OutcomeKind::load_failed;
                o.error = *message;
                return finish(o);
            }
            auto loaded = std::make_shared<plugin::PluginLibrary>(std::move(std::get<plugin::PluginLibrary>(opened)));
            if (sh_init_fn init = loaded->init_hook()) {
                InlineCall init_sink;
                plugin::TaskCall call(init_sink, 0);
                auto report = call.run_init(init);
                if (report.status != plugin::TaskReport::Status::ok) {
                    plugins.libraries.erase(spec.plugin_path.string());
                    model::Outcome o;
                    o.kind = model::OutcomeKind::load_failed;
                    o.error = "plugin " + std::string(loaded->name()) + " failed to initialise: " + report.data;
                    return finish(o);
                }
            }
            slot = std::move(loaded);
        }
        library = slot;
    }
    const sh_task_t* task = library->find_task(spec.task);
    if (!task) {
        model::Outcome o;
        o.kind = model::OutcomeKind::load_failed;
        o.error = "plugin " + std::string(library->name()) + " has no task '" + spec.task + "' (its tasks: " + library->task_names() + ")";
        return finish(o);
    }
    if (observer) {
        observer->on_started(::getpid());
        observer->on_ready();
    }

    auto call = std::make_shared<InlineCall>();
    call->observer = observer;
    std::thread([call, library, task, payload = spec.payload, max_result = spec.settings.max_result_bytes] {
        plugin::TaskCall task_call(*call, max_result);
        auto report = task_call.run(*task, payload);
        std::lock_guard lock(call->mutex);
        call->report = std::move(report);
        call->finished = true;
        call->finished_cv.notify_all();
    }).detach();

    const auto deadline = Clock::now() + spec.settings.timeout;
    std::unique_lock lock(call->mutex);
    bool timed_out = false;
    bool cancelled = false;
    while (!call->finished) {
        if (cancel && cancel->requested()) {
            cancelled = true;
            break;
        }
        if (Clock::now() >= deadline) {
            timed_out = true;
            break;
        }
        // The cancel token has no condition variable; look at it every few milliseconds.
        call->finished_cv.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(20)));
    }
    if (timed_out || cancelled) {
        call->cancel = true;
        call->finished_cv.wait_for(lock, spec.settings.grace, [&] { return call->finished; });
    }
    call->observer = nullptr;
    model::Outcome o;
    if (timed_out || cancelled) {
        o.kind = timed_out ? model::OutcomeKind::timed_out : model::OutcomeKind::cancelled;
        o.error = timed_out ? "the task did not finish within its timeout (running in the host: it cannot be killed)" : "cancelled while running";
        if (!call->finished) o.error += "; the task is still running inside the host";
    } else {
        switch (call->report.status) {
        case plugin::TaskReport::Status::ok:
            o.kind = model::OutcomeKind::succeeded;
            o.result = std::move(call->report.data);
            break;
        case plugin::TaskReport::Status::error:
            o.kind = model::OutcomeKind::failed;
            o.error = std::move(call->report.data);
            o.permanent = call->report.permanent;
            break;
        case plugin::TaskReport::Status::result_too_large:
            o.kind = model::OutcomeKind::result_too_large;
            o.error = "the task's result of " + std::to_string(call->report.result_size) + " bytes exceeds max_result";
            break;
        }
    }
    o.progress = call->last_progress;
    return finish(o);
}

} // namespace sandhost::sandbox
