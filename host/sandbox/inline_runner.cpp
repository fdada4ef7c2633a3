#include "sandbox/inline_runner.h"

#include "os/proc.h"
#include "plugin/plugin_library.h"
#include "plugin/task_call.h"
#include "sandbox/classify.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

protocol::Done to_done(const plugin::TaskReport& report)
{
    protocol::Done done;
    switch (report.status) {
    case plugin::TaskReport::Status::ok: done.status = protocol::Done::Status::ok; break;
    case plugin::TaskReport::Status::error: done.status = protocol::Done::Status::error; break;
    case plugin::TaskReport::Status::result_too_large: done.status = protocol::Done::Status::result_too_large; break;
    case plugin::TaskReport::Status::out_of_memory: done.status = protocol::Done::Status::out_of_memory; break;
    }
    done.permanent = report.permanent;
    done.data = report.data;
    done.result_size = report.result_size;
    return done;
}

} // namespace

// State shared between the attempt and its task thread (which may outlive the attempt).
struct InlineRunner::Call final : plugin::TaskSink {
    std::mutex mutex;
    std::condition_variable finished_cv;
    bool finished = false;
    plugin::TaskReport report;
    std::atomic<bool> cancel{false};
    std::optional<model::ProgressReport> last_progress;
    model::Outcome logged;  // only its log
    AttemptObserver* observer = nullptr;  // cleared when the attempt stops listening

    void log(sh_log_level_t level, std::string_view message) override
    {
        std::lock_guard lock(mutex);
        model::keep_log_line(logged, model::LogLine{model::log_level_from_number(level), std::chrono::system_clock::now(), std::string(message)});
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

InlineRunner::InlineRunner() = default;

InlineRunner::~InlineRunner() { shutdown(); }

std::shared_ptr<plugin::PluginLibrary> InlineRunner::load(const AttemptSpec& spec, const os::FileIdentity& library, model::Outcome& failure)
{
    std::lock_guard lock(m_mutex);
    auto& entry = m_libraries[spec.plugin_path.string()];
    auto& slot = entry.library;
    if (slot) {
        if (!(library == entry.file) && !(library == entry.replaced)) {
            entry.replaced = library;
            spdlog::warn("{} was replaced on disk; tasks run in the host (no sandbox) keep running the version loaded first until the "
                         "host restarts",
                         spec.plugin_path.string());
        }
        return slot;
    }
    entry.file = library;
    AttemptFacts facts;
    facts.hello_seen = true;
    auto opened = plugin::PluginLibrary::open(spec.plugin_path.string(), plugin::poco_loader());
    if (auto* message = std::get_if<std::string>(&opened)) {
        facts.load_failed = *message;
    } else {
        auto loaded = std::make_shared<plugin::PluginLibrary>(std::move(std::get<plugin::PluginLibrary>(opened)));
        if (sh_init_fn init = loaded->init_hook()) {
            Call init_sink;
            plugin::TaskCall call(init_sink, 0);
            auto report = call.run_init(init);
            if (report.status != plugin::TaskReport::Status::ok) {
                facts.load_failed = "plugin " + std::string(loaded->name()) + " failed to initialise: " + report.data;
            }
        }
        if (!facts.load_failed) slot = std::move(loaded);
    }
    if (facts.load_failed) {
        m_libraries.erase(spec.plugin_path.string());
        failure = classify(facts);
        return nullptr;
    }
    return slot;
}

model::Outcome InlineRunner::run(const AttemptSpec& spec, const os::FileIdentity& library_file, AttemptObserver* observer, CancelToken* cancel)
{
    const auto started = Clock::now();
    const auto started_wall = std::chrono::system_clock::now();
    auto finish = [&](model::Outcome o) {
        o.isolation = "none";
        o.pid = ::getpid();
        o.started_at = started_wall;
        o.ended_at = std::chrono::system_clock::now();
        o.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        return o;
    };

    model::Outcome failure;
    const auto library = load(spec, library_file, failure);
    if (!library) return finish(failure);
    AttemptFacts facts;
    facts.hello_seen = true;
    const sh_task_t* task = library->find_task(spec.task);
    if (!task) {
        facts.load_failed = "plugin " + std::string(library->name()) + " has no task '" + spec.task + "' (its tasks: " + library->task_names() + ")";
        facts.task_missing = true;
        return finish(classify(facts));
    }
    if (observer) {
        observer->on_started(::getpid());
        observer->on_ready();
    }
    facts.ready_seen = true;

    auto call = std::make_shared<Call>();
    call->observer = observer;
    {
        // The work holds the library: it stays loaded while the task runs, even abandoned.
        plugin::JobInfo info;
        info.job_id = spec.job_id;
        info.attempt = spec.attempt;
        info.queue = spec.queue;
        info.task = spec.task;
        info.deadline_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               (std::chrono::system_clock::now() + spec.settings.timeout).time_since_epoch())
                               .count();
        auto work = [call, library, task, payload = spec.payload, max_result = spec.settings.max_result_bytes, info = std::move(info)] {
            plugin::TaskCall task_call(*call, max_result);
            auto report = task_call.run(*task, payload, info);
            std::lock_guard done(call->mutex);
            call->report = std::move(report);
            call->finished = true;
            call->finished_cv.notify_all();
        };
        std::lock_guard lock(m_mutex);
        bool given = false;
        for (const auto& t : m_threads) {
            std::lock_guard state(t->mutex);
            if (t->work || t->stop) continue;
            {
                std::lock_guard last(t->call->mutex);
                if (!t->call->finished) continue;
            }
            t->call = call;
            t->work = std::move(work);
            t->wake.notify_one();
            given = true;
            break;
        }
        if (!given) {
            auto fresh = std::make_shared<TaskThread>();
            fresh->call = call;
            fresh->work = std::move(work);
            fresh->thread = std::thread([fresh] { serve(fresh); });
            m_threads.push_back(std::move(fresh));
        }
    }

    const auto deadline = Clock::now() + spec.settings.timeout;
    std::unique_lock lock(call->mutex);
    while (!call->finished && !facts.stop) {
        if (cancel && cancel->requested()) {
            facts.stop = StopReason{StopReason::Kind::cancel, std::nullopt, "cancelled while running"};
        } else if (Clock::now() >= deadline) {
            facts.stop = StopReason{StopReason::Kind::timeout, std::nullopt,
                                    "the task did not finish within its timeout (running in the host: it cannot be killed)"};
        } else {
            // The cancel token has no condition variable; look at it every few milliseconds.
            call->finished_cv.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(20)));
        }
    }
    if (facts.stop) {
        call->cancel = true;
        call->finished_cv.wait_for(lock, spec.settings.grace, [&] { return call->finished; });
        if (!call->finished) facts.stop->message += "; the task is still running inside the host";
    } else {
        facts.done = to_done(call->report);
    }
    call->observer = nullptr;
    model::Outcome o = classify(facts);
    o.progress = call->last_progress;
    o.log = call->logged.log;
    o.log_dropped = call->logged.log_dropped;
    return finish(o);
}

void InlineRunner::serve(const std::shared_ptr<TaskThread>& self)
{
    os::name_this_thread("sh-task");
    std::unique_lock lock(self->mutex);
    for (;;) {
        self->wake.wait(lock, [&] { return self->work || self->stop; });
        if (!self->work) return;
        std::function<void()> work = std::move(self->work);
        self->work = nullptr;
        lock.unlock();
        work();
        work = nullptr;  // the library it held, before the thread waits for more
        lock.lock();
    }
}

void InlineRunner::shutdown(model::Duration grace)
{
    std::list<std::shared_ptr<TaskThread>> threads;
    {
        std::lock_guard lock(m_mutex);
        threads.swap(m_threads);
    }
    for (auto& t : threads) {
        std::shared_ptr<Call> call;
        {
            std::lock_guard state(t->mutex);
            t->stop = true;
            call = t->call;
            t->wake.notify_one();
        }
        std::unique_lock lock(call->mutex);
        call->cancel = true;
        const bool finished = call->finished_cv.wait_for(lock, grace, [&] { return call->finished; });
        lock.unlock();
        if (finished) {
            t->thread.join();
        } else {
            spdlog::error("a task running inside the host did not return when asked to stop; it is left running until the process exits");
            t->thread.detach();
        }
    }
}

} // namespace sandhost::sandbox
