#include "scheduler/host.h"

#include "model/version.h"
#include "os/proc.h"
#include "sandbox/classify.h"
#include "sandbox/host_error.h"
#include "sandbox/isolation_support.h"
#include "scheduler/enqueue_policy.h"
#include "scheduler/event_log.h"
#include "scheduler/payload.h"
#include "scheduler/retry_policy.h"
#include "scheduler/schedule_clock.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace sandhost::scheduler {
namespace {

using Clock = std::chrono::system_clock;
using spdlog::level::level_enum;

// How often the host makes sure its store is still the file it opened (store::Store::vanished).
constexpr auto k_store_check_period = std::chrono::seconds(2);
// The longest an attempt's record waits for other attempts to end and share its commit.
constexpr auto k_max_gather = std::chrono::microseconds(2000);

std::string machine_name()
{
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    return name;
}

// "MACHINE:PID:RANDOM": enough to tell, on the same machine, whether it is still alive.
std::string random_instance()
{
    std::random_device device;
    char text[64];
    std::snprintf(text, sizeof text, ":%d:%08x", static_cast<int>(::getpid()), device());
    return machine_name() + text;
}

// Whether a holder ("NAME/MACHINE:PID:RANDOM") was a process of this machine that is gone.
bool holder_is_dead_here(const std::string& holder)
{
    const auto slash = holder.rfind('/');
    if (slash == std::string::npos) return false;
    const std::string instance = holder.substr(slash + 1);
    const auto first = instance.find(':');
    const auto second = instance.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos || instance.substr(0, first) != machine_name()) return false;
    const pid_t pid = static_cast<pid_t>(std::atol(instance.substr(first + 1, second - first - 1).c_str()));
    if (pid <= 0) return false;
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    const auto state = os::process_state(pid);
    return !state || *state == 'Z' || os::read_cmdline(pid).find("sandhost") == std::string::npos;
}

// Writes a running attempt's progress to the store (at most every 250 ms) and logs its start.
class StoreObserver final : public sandbox::AttemptObserver {
public:
    StoreObserver(store::Store& store, const store::Claim& claim, const std::string& task, std::atomic<pid_t>& pid)
        : m_store(store), m_claim(claim), m_task(task), m_pid(pid)
    {
    }
    void on_started(pid_t pid) override
    {
        m_pid = pid;
        log_event(level_enum::info, "attempt started",
                  {{"job", m_claim.job.id}, {"queue", m_claim.job.queue}, {"task", m_task}, {"attempt", std::int64_t(m_claim.number)},
                   {"pid", std::int64_t(pid)}});
    }
    void on_progress(const model::ProgressReport& progress) override
    {
        const auto now = std::chrono::steady_clock::now();
        if (progress.percent < 100 && now - m_last < std::chrono::milliseconds(250)) return;
        m_last = now;
        try {
            m_store.set_progress(m_claim.job.id, m_claim.attempt_id, model::Progress{progress.percent, progress.message});
        } catch (const std::exception& e) {
            // Progress is best effort: said once per attempt (the run loop reports the store's state).
            if (!std::exchange(m_progress_failed, true)) spdlog::warn("job {}: cannot record progress: {}", m_claim.job.id, e.what());
        }
    }
    void on_log(int level, std::string_view message) override
    {
        static const level_enum k_levels[] = {level_enum::trace, level_enum::debug, level_enum::info, level_enum::warn, level_enum::err};
        log_event(k_levels[std::clamp(level, 0, 4)], "task log",
                  {{"job", m_claim.job.id}, {"attempt", std::int64_t(m_claim.number)}, {"message", std::string(message)}});
    }

private:
    store::Store& m_store;
    const store::Claim& m_claim;
    std::string m_task;
    std::atomic<pid_t>& m_pid;
    std::chrono::steady_clock::time_point m_last{};
    bool m_progress_failed = false;
};

} // namespace

struct Host::Running {
    store::Claim claim;
    std::atomic<pid_t> pid{0};                          // the worker, once started
    bool started = false;                               // false while held ahead of a slot
    bool slot_released = false;  // its attempt's thread freed its slot when the attempt ended
    std::uint64_t held_order = 0;  // when held ahead: how many jobs the host held before it, plus one
    model::TimePoint started_at{};
    std::chrono::steady_clock::time_point claimed{};   // for HostOptions::on_recorded
    std::chrono::steady_clock::time_point launched{};  // the same, once started
    std::shared_ptr<const config::Settings> settings;  // the snapshot it started with
    const config::QueueSettings* queue = nullptr;       // points into settings
    sandbox::AttemptSpec spec;
    std::unique_ptr<sandbox::CancelToken> cancel;  // null when the host could not make one
    void request_cancel(sandbox::CancelToken::Stop how = sandbox::CancelToken::Stop::politely)
    {
        if (cancel) cancel->request(how);
    }
    std::optional<model::Outcome> outcome;  // set by the attempt's thread before it reports
    std::optional<std::string> host_error;   // the host itself could not run the attempt
    bool shutdown_interrupted = false;
    bool lease_lost = false;      // the store gave the job to another attempt: its result would be refused
    bool lease_expired = false;   // its lease ran out unrenewed: stopped, it runs again
    model::TimePoint lease_renewed{};
    model::TimePoint lease_expires{};  // as far as the last claim or renewal took it
};

// A finished attempt whose record the store did not take yet.
struct Host::Unrecorded {
    store::Claim claim;
    model::AttemptRecord record;
    store::Transition transition;
    std::chrono::steady_clock::time_point claimed{};
    std::chrono::steady_clock::time_point started{};
};

thread_local Host::Running** Host::t_next_here = nullptr;

class Host::RecorderTurn {
public:
    // Waits for the turn, at most `limit` when one is given (an attempt's thread: held() says
    // whether it came), as long as it takes without (the run loop). The run loop goes first:
    // while it waits, no attempt's thread takes the turn, so that attempts ending one after
    // another never keep it from renewing leases and the rest of its pass.
    explicit RecorderTurn(Host& host, std::optional<std::chrono::microseconds> limit = std::nullopt) : m_host(host)
    {
        std::unique_lock lock(host.m_mutex);
        if (limit) {
            if (!host.m_recorder_free.wait_for(lock, *limit, [&] { return !host.m_recording && !host.m_loop_waits_to_record; })) return;
        } else {
            host.m_loop_waits_to_record = true;
            host.m_recorder_free.wait(lock, [&] { return !host.m_recording; });
            host.m_loop_waits_to_record = false;
        }
        host.m_recording = m_held = true;
    }
    ~RecorderTurn() { release(); }
    RecorderTurn(const RecorderTurn&) = delete;
    RecorderTurn& operator=(const RecorderTurn&) = delete;
    bool held() const { return m_held; }
    void release()
    {
        if (!std::exchange(m_held, false)) return;
        {
            std::lock_guard lock(m_host.m_mutex);
            m_host.m_recording = false;
        }
        m_host.m_recorder_free.notify_all();
    }

private:
    Host& m_host;
    bool m_held = false;
};

Host::Host(std::shared_ptr<const config::Settings> settings, std::shared_ptr<store::Store> store, HostOptions options)
    : m_settings(std::move(settings)),
      m_store(std::move(store)),
      m_options(std::move(options)),
      m_sandbox(std::make_unique<sandbox::Sandbox>(m_options.worker)),
      m_rng(std::random_device{}())
{
    m_host_name = m_settings->host.name;
    if (m_options.instance.empty()) m_options.instance = random_instance();
    if (!m_options.metrics) m_options.metrics = std::make_shared<Metrics>();
    m_holder = m_host_name + "/" + m_options.instance;
}

Host::~Host()
{
    std::unique_lock lock(m_mutex);
    m_stopping = true;
    m_wake.notify_all();
    m_stop_wake.notify_all();
    for (auto& [id, running] : m_running) running->request_cancel();
    lock.unlock();
    m_attempt_threads.join();  // before m_running goes: the threads use its attempts
    if (m_retention_thread.joinable()) m_retention_thread.join();
    m_sandbox->shutdown();
}

std::shared_ptr<const config::Settings> Host::settings() const
{
    std::lock_guard lock(m_mutex);
    return m_settings;
}

HostStats Host::stats() const
{
    std::lock_guard lock(m_mutex);
    HostStats copy = m_stats;
    copy.running = started_count();
    copy.claimed_ahead = m_ahead_count;
    return copy;
}

double Host::random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(m_rng); }

void Host::stop()
{
    std::lock_guard lock(m_mutex);
    m_stopping = true;
    m_wake.notify_all();
    m_stop_wake.notify_all();
}

void Host::reload(std::shared_ptr<const config::Settings> settings)
{
    std::lock_guard lock(m_mutex);
    if (!(settings->host.store == m_settings->host.store)) {
        spdlog::warn("reload: the store cannot change while the host runs; keeping {}", config::to_string(m_settings->host.store));
    }
    m_settings = std::move(settings);
    m_republish = true;
    m_unclaimable_noted.clear();
    log_event(level_enum::info, "config reloaded", {{"queues", std::int64_t(m_settings->queues.size())}});
    m_wake.notify_all();
}

void Host::start_serving()
{
    if (!m_store->register_host(m_host_name, m_holder, Clock::now(), lease())) {
        const auto previous = m_store->host_registration(m_host_name);
        if (!previous || !holder_is_dead_here(previous->first)) {
            throw store::StoreError("another host named '" + m_host_name + "' (" + (previous ? previous->first : std::string("?")) +
                                    ") is running on this store; give each host its own host.name");
        }
        // A previous run of this host on this machine that died without unregistering.
        m_store->take_over_host(m_host_name, m_holder, Clock::now());
    }
    publish();
    log_event(level_enum::info, "host started",
              {{"host", m_host_name}, {"holder", m_holder}, {"queues", std::int64_t(settings()->queues.size())},
               {"max_workers", std::int64_t(settings()->host.max_workers)}});
    // Once per start: a queue's privilege setting this machine cannot apply makes its workers
    // fail to start (spawn_failed, saying why); the log says so before any job does.
    const auto isolation = sandbox::isolation_support();
    log_event(level_enum::info, "worker isolation", {{"supported", isolation.describe()}});
    const bool wants_cgroups = std::any_of(settings()->queues.begin(), settings()->queues.end(), [](const auto& queue) {
        return queue.sandbox.enabled && queue.sandbox.cgroup == model::CgroupUse::automatic;
    });
    if (wants_cgroups && !isolation.cgroups) {
        log_event(level_enum::warn, "cgroups unavailable",
                  {{"why", isolation.cgroup.why_not},
                   {"instead", "per-process limits: the address space for memory, the host's sampling of the process tree for processes"}});
    }
    recover_lost(Clock::now());
}

// What this host serves, for enqueue checks and `sandhost hosts`: its queues with the tasks it
// lets them run, and its plugin catalog (loaded in workers, no init hook run).
void Host::publish()
{
    const auto current = settings();
    std::vector<model::ServedQueue> queues;
    for (const auto& queue : current->queues) {
        model::ServedQueue served{queue.name, {}, queue.ttl};
        for (const auto& pattern : queue.tasks) served.tasks.push_back(pattern.to_string());
        queues.push_back(std::move(served));
    }
    // What is described is what the next look for changes compares with: a library replaced
    // meanwhile is described again.
    auto files = sandbox::plugin_files(current->host.plugin_dirs);
    const auto catalog = m_sandbox->scan_plugins(current->host.plugin_dirs, files);
    for (const auto& plugin : catalog.plugins) {
        if (!plugin.ok()) log_event(level_enum::warn, "plugin not loadable", {{"path", plugin.path.string()}, {"error", plugin.error}});
    }
    if (!m_store->publish_host(m_host_name, m_holder, model::version(), queues, catalog, Clock::now())) {
        spdlog::warn("could not publish the plugin catalog: host name '{}' is held by another instance", m_host_name);
    }
    m_published_files = std::move(files);
}

void Host::notice_plugin_changes()
{
    if (m_publish_pending) return;
    auto files = sandbox::plugin_files(settings()->host.plugin_dirs);
    if (files == m_published_files) return;
    std::string changed;
    auto say = [&changed](const char* what, const std::filesystem::path& library) {
        changed += (changed.empty() ? "" : ", ") + library.filename().string() + " " + what;
    };
    auto find = [](const sandbox::PluginFiles& in, const std::filesystem::path& library) {
        return std::find_if(in.begin(), in.end(), [&library](const auto& f) { return f.first == library; });
    };
    for (const auto& file : files) {
        const auto before = find(m_published_files, file.first);
        if (before == m_published_files.end()) say("added", file.first);
        else if (!(before->second == file.second)) say("replaced", file.first);
    }
    for (const auto& file : m_published_files) {
        if (find(files, file.first) == files.end()) say("removed", file.first);
    }
    log_event(level_enum::info, "plugins changed", {{"changes", changed}, {"next", std::string("the catalog is published again")}});
    m_publish_pending = true;
}

void Host::heartbeat(model::TimePoint now)
{
    model::HostStatus status;
    {
        std::lock_guard lock(m_mutex);
        for (const auto& [id, running] : m_running) {
            if (!running->started) continue;
            status.running.push_back(model::RunningAttempt{id, running->claim.number, running->claim.job.queue, running->claim.job.task,
                                                           running->pid.load(), running->started_at});
        }
    }
    status.workers = m_sandbox->workers();
    status.broken_plugins = m_sandbox->broken_plugins();
    if (!m_store->heartbeat(m_host_name, m_holder, status, now)) {
        spdlog::error("host name '{}' was taken over by another instance: this one stops", m_host_name);
        stop();
    }
}

void Host::run()
{
    start_serving();
    m_retention_thread = std::thread([this] {
        os::name_this_thread("sh-retention");
        retain();
    });
    // Joined on every way out of run(): the thread stops once m_stopping is set.
    struct JoinRetention {
        Host& host;
        ~JoinRetention()
        {
            host.stop();
            if (host.m_retention_thread.joinable()) host.m_retention_thread.join();
        }
    } join_retention{*this};
    auto next_housekeeping = Clock::now();
    auto next_cancel_poll = Clock::now();
    auto next_heartbeat = Clock::now();
    auto next_store_check = Clock::now() + k_store_check_period;
    std::optional<model::TimePoint> drain_deadline;
    for (;;) {
        // The whole pass but its wait: attempts that end meanwhile leave their endings to it.
        RecorderTurn turn(*this);
        collect_finished();
        const auto now = Clock::now();
        if (!m_store_vanished && now >= next_store_check) {
            next_store_check = now + k_store_check_period;
            if ((m_store_vanished = m_store->vanished())) {
                // Writing on would go into a file nobody else sees: stop claiming, stop the
                // workers at once, record nothing more, and exit with the reason.
                log_event(level_enum::err, "store vanished", {{"why", *m_store_vanished}, {"running", std::int64_t(m_running.size())}});
                std::lock_guard lock(m_mutex);
                m_stopping = true;
                drain_deadline = now;
            }
        }
        bool stopping;
        bool republish;
        {
            std::lock_guard lock(m_mutex);
            stopping = m_stopping;
            republish = std::exchange(m_republish, false);
        }
        if (!m_unrecorded.empty() && !m_store_vanished) write_unrecorded(now);
        m_publish_pending = m_publish_pending || republish;
        if (m_publish_pending && store_due(now) && !m_store_vanished) {
            try {
                publish();
                m_publish_pending = false;
                store_answered(now);
            } catch (const std::exception& e) {
                store_failed("publishing the plugin catalog", e, now);
            }
        }
        if (stopping) {
            if (!drain_deadline) {
                drain_deadline = now + m_options.drain;
                log_event(level_enum::info, "host draining",
                          {{"running", std::int64_t(m_running.size())}, {"drain_ms", std::int64_t(m_options.drain.count())}});
            }
            // Records the store did not take yet get until the drain deadline to be written.
            if (m_running.empty() && (m_unrecorded.empty() || now >= *drain_deadline || m_store_vanished)) break;
            if (now >= *drain_deadline || m_store_vanished) {
                std::vector<Running*> interrupted;
                {
                    std::lock_guard lock(m_mutex);
                    for (auto& [id, running] : m_running) {
                        if (!std::exchange(running->shutdown_interrupted, true)) interrupted.push_back(running.get());
                    }
                }
                for (Running* running : interrupted) running->request_cancel();
            }
        } else {
            if (now >= next_housekeeping && store_due(now)) {
                notice_plugin_changes();
                housekeeping(now);
                next_housekeeping = now + m_options.housekeeping;
            }
            claim_jobs();
        }
        // Held jobs whose slot freed, or that were cancelled, lost their lease or the host stops.
        launch_ahead(stopping);
        if (m_store_vanished) {
            // Nothing more goes to the store.
        } else if (now >= next_cancel_poll && store_due(now)) {
            poll_cancels_and_renew(now);
            next_cancel_poll = now + m_options.cancel_poll;
        }
        if (!m_store_vanished) stop_expired_leases(now);
        if (now >= next_heartbeat && store_due(now) && !m_store_vanished) {
            try {
                heartbeat(now);
                store_answered(now);
            } catch (const std::exception& e) {
                store_failed("recording the host's heartbeat", e, now);
            }
            next_heartbeat = now + lease() / 3;
        }
        turn.release();
        std::unique_lock lock(m_mutex);
        m_wake.wait_for(lock, m_options.idle_poll, [&] { return !m_finished.empty() || (m_stopping && !stopping) || m_republish; });
    }
    if (!m_unrecorded.empty()) {
        log_event(level_enum::err, "attempt records not written",
                  {{"count", std::int64_t(m_unrecorded.size())},
                   {"why", std::string("the store did not answer before the drain deadline; their jobs run again once their lease expires")}});
    }
    if (m_store_vanished) {
        throw store::StoreError(*m_store_vanished + "; the host stopped its workers and recorded nothing more");
    }
    try {
        m_store->unregister_host(m_host_name, m_holder, Clock::now());
    } catch (const std::exception& e) {
        spdlog::warn("cannot unregister the host: {}", e.what());
    }
    log_event(level_enum::info, "host stopped", {{"host", m_host_name}});
}

void Host::retain()
{
    for (;;) {
        {
            std::unique_lock lock(m_mutex);
            m_stop_wake.wait_for(lock, m_options.retention, [&] { return m_stopping; });
            if (m_stopping) return;
        }
        if (!retain_once()) return;
    }
}

bool Host::retain_once()
{
    static constexpr model::JobState k_final[] = {model::JobState::completed, model::JobState::dead, model::JobState::cancelled};
    const auto current = settings();
    for (const auto& queue : current->queues) {
        for (const auto state : k_final) {
            const model::RetentionLimit& limit = *queue.retention.limit(state);
            if (!limit.limits()) continue;
            std::size_t trimmed = 0;
            bool stopping = false;
            try {
                for (;;) {
                    const std::size_t batch = m_store->trim(queue.name, state, limit, Clock::now(), m_options.retention_batch);
                    trimmed += batch;
                    // Counted as each batch commits: a long backlog shows in the host's figures
                    // while it goes, and a host stopped halfway has counted what it deleted.
                    std::unique_lock lock(m_mutex);
                    m_stats.trimmed += batch;
                    if (batch < m_options.retention_batch) break;
                    // A pause between batches: the run loop's claims and finishes get the store.
                    stopping = m_stop_wake.wait_for(lock, std::chrono::milliseconds(20), [&] { return m_stopping; });
                    if (stopping) break;
                }
            } catch (const std::exception& e) {
                // The run loop notices a failing store and says so; retention tries again next round.
                spdlog::debug("retention of queue {} could not trim {} jobs: {}", queue.name, model::to_string(state), e.what());
            }
            if (trimmed > 0) {
                log_event(level_enum::debug, "finished jobs trimmed",
                          {{"queue", queue.name}, {"state", std::string(model::to_string(state))}, {"count", std::int64_t(trimmed)},
                           {"retention", model::describe(limit)}});
            }
            if (stopping) return false;
        }
    }
    return true;
}

void Host::housekeeping(model::TimePoint now)
{
    try {
        recover_lost(now);
        if (const auto expired = m_store->expire(now)) log_event(level_enum::info, "jobs expired", {{"count", std::int64_t(expired)}});
        fire_schedules(now);
        note_unclaimable();
        store_answered(now);
    } catch (const std::exception& e) {
        store_failed("housekeeping (lost attempts, expiry, schedules)", e, now);
    }
}

// Jobs of a task this host's queue settings do not allow stay waiting for a host that may run
// them; say so once per queue and task.
void Host::note_unclaimable()
{
    std::vector<store::QueueAllowance> queues;
    for (const auto& queue : settings()->queues) {
        store::QueueAllowance allowance;
        allowance.queue = queue.name;
        for (const auto& pattern : queue.tasks) allowance.tasks.push_back(pattern.to_string());
        queues.push_back(std::move(allowance));
    }
    for (const auto& [queue, task] : m_store->unclaimable_tasks(queues)) {
        if (!m_unclaimable_noted.emplace(queue, task).second) continue;
        log_event(level_enum::info, "jobs left to other hosts",
                  {{"queue", queue}, {"task", task}, {"why", std::string("this host's queue settings do not allow the task")}});
    }
}

void Host::recover_lost(model::TimePoint now)
{
    const auto current = settings();
    for (auto& lost : m_store->lost_attempts(m_host_name, m_holder, now)) {
        model::Outcome outcome;
        outcome.kind = model::OutcomeKind::worker_lost;
        outcome.error = "the host running it (" + (lost.job.lease ? lost.job.lease->holder : std::string("?")) + ") stopped renewing its lease";
        outcome.isolation = "unknown";
        // It ran, as far as anyone knows, from its claim until now.
        outcome.started_at = lost.started_at;
        outcome.ended_at = now;
        outcome.duration = std::max(model::Duration(0), std::chrono::duration_cast<model::Duration>(now - lost.started_at));
        const config::QueueSettings* queue = current->find_queue(lost.job.queue);
        const config::QueueSettings fallback_queue;
        const store::Transition transition = decide(lost.job, outcome, queue ? *queue : fallback_queue, now, random01());
        model::AttemptRecord record{lost.job.id, lost.attempt_id, lost.number, lost.job.lease ? lost.job.lease->holder : "", outcome};
        if (const auto applied = m_store->recover(record, transition, now)) {
            {
                std::lock_guard lock(m_mutex);
                ++m_stats.recovered;
            }
            log_event(level_enum::warn, "attempt lost",
                      {{"job", lost.job.id}, {"queue", lost.job.queue}, {"task", lost.job.task}, {"attempt", std::int64_t(lost.number)},
                       {"holder", record.host}, {"next", std::string(model::to_string(*applied))}});
        }
    }
}

void Host::fire_schedules(model::TimePoint now)
{
    const auto current = settings();
    for (const auto& schedule : current->schedules) {
        auto cached = m_schedule_last.find(schedule.name);
        if (cached == m_schedule_last.end()) {
            auto last = m_store->schedule_last_fire(schedule.name);
            if (!last) {
                m_store->fire_schedule(schedule.name, now, model::NewJob{}, now);  // first sight: only recorded
                last = m_store->schedule_last_fire(schedule.name);
            }
            cached = m_schedule_last.emplace(schedule.name, last.value_or(now)).first;
        }
        const auto due = due_time(schedule, cached->second, now);
        if (!due) continue;
        const EnqueueRequest request = schedule_request(schedule);
        cached->second = *due;
        model::NewJob job;
        try {
            job = check_enqueue(*current, m_store->hosts(), request).job;
        } catch (const EnqueueError& e) {
            log_event(level_enum::err, "schedule refused", {{"schedule", schedule.name}, {"error", std::string(e.what())}});
            continue;
        }
        if (const auto fired = m_store->fire_schedule(schedule.name, *due, job, now)) {
            m_options.metrics->enqueued(schedule.queue);
            log_event(level_enum::info, "schedule fired",
                      {{"schedule", schedule.name}, {"job", *fired}, {"queue", schedule.queue}, {"task", job.task}});
        }
    }
}

Host::Claimable Host::claimable_now()
{
    // Under the lock: attempts' threads free slots and start held jobs meanwhile.
    std::lock_guard lock(m_mutex);
    const auto current = m_settings;
    Claimable claimable;
    auto& allowances = claimable.queues;
    const std::size_t cap = worker_limit(*current);
    const std::size_t started = started_count();
    // Free workers, and room to hold jobs ahead of them.
    std::size_t max = cap > started ? cap - started : 0;
    std::size_t ahead_room = 0;
    for (const auto& queue : current->queues) {
        const auto held = m_ahead.find(queue.name);
        const std::size_t ahead = held == m_ahead.end() ? 0 : held->second.size();
        const std::size_t taken = m_running_by_queue[queue.name] + ahead;
        const std::size_t room = queue.prefetch > ahead ? queue.prefetch - ahead : 0;
        ahead_room += room;
        const std::size_t limit = std::size_t(queue.concurrency) + queue.prefetch;
        // Its free slots and its own room to hold, but no more than the host's free workers
        // and that room: a queue without prefetch is not claimed for while no worker is free.
        const std::size_t slots = taken >= limit ? 0 : std::min(limit - taken, max + room);
        if (slots == 0) continue;
        store::QueueAllowance allowance;
        allowance.queue = queue.name;
        allowance.slots = slots;
        // The queues that never hold a job share the free workers: one claim step takes no
        // more of their jobs than there are workers to start them.
        if (queue.prefetch == 0) allowance.shared_slots = max;
        for (const auto& pattern : queue.tasks) allowance.tasks.push_back(pattern.to_string());
        if (queue.rate_limit) {
            allowance.rate_jobs = queue.rate_limit->jobs;
            allowance.rate_per = queue.rate_limit->per;
        }
        allowance.global_concurrency = queue.global_concurrency;
        allowances.push_back(std::move(allowance));
    }
    claimable.max = allowances.empty() ? 0 : max + ahead_room;
    return claimable;
}

void Host::claim_jobs()
{
    // No claims while the store fails: a job claimed now might never be recorded.
    if (Clock::now() < m_claims_paused_until || store_failing()) return;
    const Claimable claimable = claimable_now();
    if (claimable.max == 0) return;
    // Every free slot in one store step.
    std::vector<store::Claim> claims;
    const auto now = Clock::now();
    try {
        claims = m_store->claim_batch(claimable.queues, m_holder, lease(), now, claimable.max);
    } catch (const std::exception& e) {
        store_failed("claiming a job", e, now);
        return;
    }
    take_claims(std::move(claims));
}

void Host::take_claims(std::vector<store::Claim> claims)
{
    // The jobs of queues without prefetch first, each in claim order: they were claimed for a
    // free worker and do not wait held for one, where a queue with prefetch may hold its own.
    const auto current = settings();
    std::stable_partition(claims.begin(), claims.end(), [&](const store::Claim& claim) {
        const auto* queue = current->find_queue(claim.job.queue);
        return !queue || queue->prefetch == 0;
    });
    for (auto& claim : claims) take_claim(std::move(claim));
}

sandbox::AttemptSpec Host::build_spec(const store::Claim& claim, const config::QueueSettings& queue, std::optional<model::Outcome>& early)
{
    const auto current = settings();
    sandbox::AttemptSpec spec;
    spec.settings = queue.sandbox;
    if (claim.job.timeout) spec.settings.timeout = *claim.job.timeout;
    spec.payload = claim.job.payload;
    spec.job_id = claim.job.id;
    spec.attempt = claim.number;
    spec.queue = claim.job.queue;
    spec.allow_insecure_plugin = current->host.allow_insecure_plugins;
    auto fail = [&](model::OutcomeKind kind, std::string error) {
        model::Outcome o;
        o.kind = kind;
        o.error = std::move(error);
        o.started_at = o.ended_at = Clock::now();
        early = std::move(o);
    };
    auto ref = config::TaskRef::parse(claim.job.task);
    if (!ref) {
        fail(model::OutcomeKind::load_failed, ref.error());
        return spec;
    }
    spec.task = ref.value().task;
    auto library = sandbox::resolve_plugin(ref.value().plugin, current->host.plugin_dirs);
    if (!library) {
        fail(model::OutcomeKind::load_failed, "no plugin named '" + ref.value().plugin + "' in the plugin directories");
        return spec;
    }
    spec.plugin_path = *library;
    if (!claim.job.depends_on.empty()) {
        try {
            spec.payload = payload_with_dependencies(claim.job.payload, m_store->results(claim.job.depends_on));
        } catch (const std::exception& e) {
            fail(model::OutcomeKind::failed, std::string("cannot add the dependencies' results to the payload: ") + e.what());
        }
    }
    return spec;
}

void Host::take_claim(store::Claim claim)
{
    auto running = std::make_unique<Running>();
    running->settings = settings();
    running->queue = running->settings->find_queue(claim.job.queue);
    running->claim = std::move(claim);
    running->claimed = std::chrono::steady_clock::now();
    running->lease_renewed = Clock::now();
    running->lease_expires = running->claim.job.lease ? running->claim.job.lease->expires_at : running->lease_renewed + lease();
    try {
        running->cancel = std::make_unique<sandbox::CancelToken>();
    } catch (const sandbox::HostError& e) {
        running->host_error = e.what();
    }
    const model::JobId id = running->claim.job.id;
    Running* raw = running.get();
    const std::string& queue = raw->claim.job.queue;
    bool hold = false;
    {
        std::lock_guard lock(m_mutex);
        ++m_stats.claimed;
        // Behind the jobs already held, or when every slot of its queue or the host is taken.
        auto ahead = m_ahead.find(queue);
        hold = raw->queue && !raw->host_error && ((ahead != m_ahead.end() && !ahead->second.empty()) || !slot_free(*raw->queue));
        m_running.emplace(id, std::move(running));
        if (hold) {
            raw->held_order = ++m_held_count;
            m_ahead[queue].push_back(id);
            ++m_ahead_count;
        }
    }
    if (!hold) launch(*raw);
}

std::size_t Host::worker_limit(const config::Settings& settings) const
{
    return m_worker_cap ? std::min<std::size_t>(m_worker_cap, settings.host.max_workers) : settings.host.max_workers;
}

bool Host::slot_free(const config::QueueSettings& queue) const
{
    auto in_queue = m_running_by_queue.find(queue.name);
    return started_count() < worker_limit(*m_settings) && (in_queue == m_running_by_queue.end() || in_queue->second < queue.concurrency);
}

void Host::launch_ahead(bool stopping)
{
    std::vector<Running*> launched;
    {
        std::lock_guard lock(m_mutex);
        if (m_ahead_count == 0) return;
        const auto now = Clock::now();
        // Those that cannot start end without running, wherever they wait in line.
        for (auto& [queue, ids] : m_ahead) {
            for (auto it = ids.begin(); it != ids.end();) {
                Running& held = *m_running.at(*it);
                if (stopping) held.shutdown_interrupted = true;
                if (!held_stopped(held)) {
                    ++it;
                    continue;
                }
                it = ids.erase(it);
                --m_ahead_count;
                // Never started: its claim is handed back as a cancelled attempt of no time,
                // which end_attempt sends where a stopped attempt's job goes.
                model::Outcome& o = held.outcome.emplace();
                o.kind = model::OutcomeKind::cancelled;
                o.started_at = o.ended_at = now;
                m_finished.push_back(held.claim.job.id);
            }
        }
        while (Running* held = take_held()) launched.push_back(held);
    }
    for (Running* held : launched) launch(*held);
}

bool Host::prepare(Running& running)
{
    Running* raw = &running;
    const model::JobId id = raw->claim.job.id;
    model::TimePoint lease_expires;
    {
        std::lock_guard lock(m_mutex);
        raw->started_at = Clock::now();
        raw->launched = std::chrono::steady_clock::now();
        if (!raw->started) {
            raw->started = true;
            ++m_running_by_queue[raw->claim.job.queue];
        }
        m_stats.peak_running = std::max(m_stats.peak_running, started_count());
        auto& peak = m_stats.peak_running_by_queue[raw->claim.job.queue];
        peak = std::max(peak, m_running_by_queue[raw->claim.job.queue]);
        lease_expires = raw->lease_expires;
    }
    m_options.metrics->attempt_started(raw->claim.job.queue,
                                       std::max(model::Duration(0), std::chrono::duration_cast<model::Duration>(raw->started_at - raw->claim.job.run_at)));
    std::optional<model::Outcome> early;
    if (raw->host_error) {
        // Finished at once, below, and put back.
    } else if (!raw->queue) {
        model::Outcome o;
        o.kind = model::OutcomeKind::load_failed;
        o.error = "queue '" + raw->claim.job.queue + "' is not in the configuration";
        early = std::move(o);
    } else {
        raw->spec = build_spec(raw->claim, *raw->queue, early);
        const auto left = std::chrono::duration_cast<model::Duration>(lease_expires - Clock::now()) - worker_lease_margin();
        raw->spec.lease = std::max(model::Duration(1), left);
    }
    if (early || raw->host_error) {
        std::lock_guard lock(m_mutex);
        raw->outcome = std::move(early);
        m_finished.push_back(id);
        m_wake.notify_one();  // when an attempt's thread prepared it
        return false;
    }
    return true;
}

void Host::launch(Running& running)
{
    if (!prepare(running)) return;
    Running* raw = &running;
    if (t_next_here && !*t_next_here) {
        *t_next_here = raw;  // record_here's thread runs it next
        return;
    }
    try {
        m_attempt_threads.run([this, raw] { run_attempts(raw); });
    } catch (const std::system_error& e) {
        // No thread for it: the host is short of resources, not the job's fault.
        std::lock_guard lock(m_mutex);
        raw->host_error = std::string("cannot start a thread for the attempt: ") + e.what();
        m_finished.push_back(raw->claim.job.id);
    }
}

void Host::run_attempts(Running* raw)
{
    while (raw) {
        const model::JobId id = raw->claim.job.id;
        std::optional<model::Outcome> outcome;
        std::optional<std::string> host_error;
        {
            StoreObserver observer(*m_store, raw->claim, raw->claim.job.task, raw->pid);
            try {
                outcome = m_sandbox->run_attempt(raw->spec, &observer, raw->cancel.get());
            } catch (const sandbox::HostError& e) {
                host_error = e.what();
            } catch (const std::exception& e) {
                // The sandbox throws nothing else: this is a fault of the host, not of the job.
                spdlog::error("job {}: the host failed while running attempt {}: {}", id, raw->claim.number, e.what());
                host_error = e.what();
            }
        }
        Running* next = nullptr;
        bool here = false;
        {
            std::lock_guard lock(m_mutex);
            raw->outcome = std::move(outcome);
            const bool failed = host_error.has_value();
            raw->host_error = std::move(host_error);
            // Its slot is free now, before the run loop records the ending: the held job claimed
            // first of those that may start now starts on this thread, with no wait for the run loop.
            --m_running_by_queue[raw->claim.job.queue];
            raw->slot_released = true;
            ++m_released;
            const bool first = m_finished.empty();
            // The last use of the attempt: once it is in m_finished, the run loop (or the thread
            // recording it) may delete it.
            m_finished.push_back(id);
            // After a host error the run loop decides: the host may be short of resources.
            if (!failed) next = take_held();
            // With no job held to start, this thread records the ending itself (record_here);
            // after a host error, or while stopping, the run loop does.
            here = !failed && !next && !m_stopping && m_ahead_count == 0;
            // The run loop, the one waiter on m_wake, is woken by the first ending it has not
            // collected yet, and by every one while no job is held (it may be gathering them);
            // with jobs held it collects all of them at once.
            if ((!here && (first || m_ahead_count == 0 || !next)) || m_gathering) m_wake.notify_one();
        }
        if (here && !record_here(next)) {
            // The turn did not come in time: the run loop collects this ending in its pass (it
            // was pushed under m_mutex, so the loop's wait sees it without this lock).
            m_wake.notify_one();
        } else if (!here && next && !prepare(*next)) {
            next = nullptr;
        }
        raw = next;
    }
}

bool Host::record_here(Running*& next)
{
    // Another attempt's thread, or the run loop, recording now is done in a commit's time;
    // past that, the run loop collects this ending in its pass.
    RecorderTurn turn(*this, std::chrono::duration_cast<std::chrono::microseconds>(k_max_gather));
    if (!turn.held()) return false;
    t_next_here = &next;
    try {
        collect_finished(false);
    } catch (const std::exception& e) {
        // What the run loop's pass would have let out of run(): the host stops, and the jobs
        // of the records not written run again once their leases expire.
        spdlog::error("the host failed while recording attempts: {}; it stops", e.what());
        t_next_here = nullptr;
        turn.release();
        stop();
        return true;
    }
    t_next_here = nullptr;
    return true;
}

bool Host::held_stopped(const Running& held)
{
    return held.shutdown_interrupted || held.lease_lost || held.lease_expired || (held.cancel && held.cancel->requested());
}

Host::Running* Host::take_held()
{
    // Nothing held (every queue without prefetch): no look at the queues on each ending.
    if (m_stopping || m_ahead_count == 0) return nullptr;
    // Of the queues' first held jobs that may start now, the one claimed first: a queue whose
    // attempts keep ending does not keep the host's workers from the others' held jobs.
    Running* first = nullptr;
    std::deque<model::JobId>* line = nullptr;
    for (auto& [queue, ids] : m_ahead) {
        if (ids.empty()) continue;
        Running& held = *m_running.at(ids.front());
        // One the run loop must end without running it: left to it.
        if (held_stopped(held)) continue;
        // A queue gone from a reloaded configuration does not hold its jobs back: they start
        // (on the settings they were claimed with) once the host has a worker free.
        const auto* settings = m_settings->find_queue(queue);
        if (settings ? !slot_free(*settings) : started_count() >= worker_limit(*m_settings)) continue;
        if (!first || held.held_order < first->held_order) {
            first = &held;
            line = &ids;
        }
    }
    if (!first) return nullptr;
    line->pop_front();
    --m_ahead_count;
    // Counted now, so that the next one in line sees the slot taken.
    ++m_running_by_queue[first->claim.job.queue];
    first->started = true;
    return first;
}

void Host::collect_finished(bool gather)
{
    std::vector<std::unique_ptr<Running>> finished;
    bool stopping;
    {
        std::unique_lock lock(m_mutex);
        if (gather) gather_endings(lock);
        while (!m_finished.empty()) {
            const model::JobId id = m_finished.front();
            m_finished.pop_front();
            auto it = m_running.find(id);
            if (it == m_running.end()) continue;
            // The slot is free before the attempt is recorded, so that the record and the claim
            // for the slot can be one step of the store (an attempt's thread freed it already).
            if (it->second->slot_released) --m_released;
            else if (it->second->started) --m_running_by_queue[it->second->claim.job.queue];
            finished.push_back(std::move(it->second));
            m_running.erase(it);
        }
        stopping = m_stopping;
    }
    // A job held ahead takes a freed slot before the store records the ending.
    launch_ahead(stopping);
    if (finished.empty()) return;
    // Attempts that ended together are recorded together, with the claims for their slots.
    std::vector<Unrecorded> endings;
    for (auto& running : finished) {
        if (auto ending = end_attempt(*running)) endings.push_back(std::move(*ending));
    }
    if (!endings.empty()) record_endings(std::move(endings), !stopping);
}

void Host::gather_endings(std::unique_lock<std::mutex>& lock)
{
    // Attempts that end within a commit of each other share it: while others still run, the
    // first ending waits for them at most as long as its own commit would take. A short task
    // thus costs one commit per few attempts instead of one each; a long one waits at most
    // one commit's time.
    // With jobs held ahead, no wait: the attempts' threads start the held ones in the slots
    // they free, and the commit takes whatever ended meanwhile.
    if (m_finished.empty() || m_ahead_count > 0 || m_finished.size() >= m_running.size() || m_stopping) return;
    const auto window = std::min(m_last_commit, k_max_gather);
    m_gathering = true;  // endings that would record themselves wake it instead
    m_wake.wait_for(lock, window, [&] { return m_finished.size() >= m_running.size() || m_stopping; });
    m_gathering = false;
}

std::optional<Host::Unrecorded> Host::end_attempt(Running& running)
{
    const auto now = Clock::now();
    model::Outcome outcome = running.outcome ? std::move(*running.outcome) : model::Outcome{};
    const model::Job& job = running.claim.job;
    store::Transition transition;
    if (!running.host_error && running.started) worker_started(now);
    if (running.host_error) {
        transition = host_error_transition(running, outcome, now);
    } else if (((running.shutdown_interrupted || running.lease_expired) && outcome.kind == model::OutcomeKind::cancelled) ||
               sandbox::lease_ran_out(outcome)) {
        // Not the job's fault: it runs again, without using up an attempt.
        if (sandbox::lease_ran_out(outcome) && !running.lease_expired) {
            // The worker saw it first (it stops a margin before the store's lease runs out).
            {
                std::lock_guard lock(m_mutex);
                ++m_stats.leases_expired;
            }
            log_event(level_enum::warn, "lease expired",
                      {{"job", job.id},
                       {"attempt", std::int64_t(running.claim.number)},
                       {"why", std::string("no renewal reached the worker in time: it stopped itself; another host may take the job over")}});
        }
        if (!sandbox::lease_ran_out(outcome)) {
            outcome.kind = model::OutcomeKind::worker_lost;
            outcome.error = running.lease_expired ? "the host could not renew the attempt's lease in time (the store did not answer)"
                            : running.started     ? "the host shut down before the attempt finished"
                                                  : "the host shut down before the attempt started (its job was claimed ahead of a free slot)";
        }
        transition.next = model::JobState::waiting;
        transition.error = describe(outcome);
        transition.refund_attempt = true;
    } else {
        const config::QueueSettings fallback_queue;
        transition = decide(job, outcome, running.queue ? *running.queue : fallback_queue, now, random01());
    }
    if (running.started) m_options.metrics->attempt_ended(job.queue, job.task, outcome.kind, outcome.duration);
    model::AttemptRecord record{job.id, running.claim.attempt_id, running.claim.number, m_holder, outcome};
    {
        std::lock_guard lock(m_mutex);
        ++m_stats.finished;
        if (running.lease_lost) ++m_stats.refused;
    }
    if (running.lease_lost) {
        log_attempt_end(running.claim, outcome, "refused: stale lease");
        return std::nullopt;
    }
    if (m_store_vanished) {
        log_attempt_end(running.claim, outcome, "not recorded: the store vanished");
        return std::nullopt;
    }
    const auto started = running.started ? running.launched : running.claimed;
    Unrecorded ending{std::move(running.claim), std::move(record), std::move(transition), running.claimed, started};
    if (store_failing()) {
        log_attempt_end(ending.claim, ending.record.outcome, "kept until the store answers");
        keep_unrecorded(std::move(ending));
        return std::nullopt;
    }
    return ending;
}

void Host::record_endings(std::vector<Unrecorded> endings, bool may_claim)
{
    const auto now = Clock::now();
    const Claimable claimable = may_claim && now >= m_claims_paused_until ? claimable_now() : Claimable{};
    std::vector<store::Store::Ending> written;
    written.reserve(endings.size());
    for (const auto& ending : endings) written.push_back(store::Store::Ending{ending.record, ending.transition});
    store::Store::FinishBatch batch;
    try {
        const auto started = std::chrono::steady_clock::now();
        batch = m_store->finish_batch(written, now, claimable.queues, m_holder, lease(), claimable.max);
        m_last_commit = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    } catch (const std::exception& e) {
        store_failed("recording an attempt", e, now);
        for (auto& ending : endings) {
            log_attempt_end(ending.claim, ending.record.outcome, "kept until the store answers");
            keep_unrecorded(std::move(ending));
        }
        return;
    }
    for (std::size_t i = 0; i < endings.size(); ++i) {
        Unrecorded& ending = endings[i];
        if (i >= batch.recorded) {
            if (i == batch.recorded) store_failed("recording an attempt", store::StoreError(batch.finish_error.value_or("?")), now);
            log_attempt_end(ending.claim, ending.record.outcome, "kept until the store answers");
            keep_unrecorded(std::move(ending));
            continue;
        }
        const std::optional<model::JobState> applied = batch.applied.at(i);
        if (!applied) {
            std::lock_guard lock(m_mutex);
            ++m_stats.refused;
        }
        recorded(ending.claim, ending.record.outcome.kind, applied, ending.claimed, ending.started);
        log_attempt_end(ending.claim, ending.record.outcome,
                        applied ? std::string(model::to_string(*applied)) : std::string("refused: stale lease"));
    }
    if (batch.claim_error) store_failed("claiming a job", store::StoreError(*batch.claim_error), now);
    take_claims(std::move(batch.claims));
}

void Host::recorded(const store::Claim& claim, model::OutcomeKind outcome, std::optional<model::JobState> applied,
                    std::chrono::steady_clock::time_point claimed, std::chrono::steady_clock::time_point started)
{
    if (!m_options.on_recorded) return;
    m_options.on_recorded(RecordedAttempt{claim.job.id, claim.number, outcome, applied, claimed, std::chrono::steady_clock::now(), started});
}

void Host::log_attempt_end(const store::Claim& claim, const model::Outcome& outcome, const std::string& next)
{
    log_event(outcome.succeeded() ? level_enum::info : level_enum::warn, "attempt ended",
              {{"job", claim.job.id},
               {"queue", claim.job.queue},
               {"task", claim.job.task},
               {"attempt", std::int64_t(claim.number)},
               {"pid", std::int64_t(outcome.pid.value_or(0))},
               {"outcome", std::string(model::to_string(outcome.kind))},
               {"duration_ms", std::int64_t(outcome.duration.count())},
               {"next", next}});
}

// The host could not run the attempt (out of descriptors, memory, processes): not the job's
// fault. It is recorded as spawn_failed, uses no attempt, runs again after a back-off, and the
// host claims nothing during that back-off.
store::Transition Host::host_error_transition(Running& running, model::Outcome& outcome, model::TimePoint now)
{
    outcome = model::Outcome{};
    outcome.kind = model::OutcomeKind::spawn_failed;
    outcome.error = "the host could not run the attempt: " + *running.host_error;
    outcome.isolation = running.queue ? model::to_string(running.queue->sandbox.mode) : "unknown";
    outcome.started_at = running.started_at;
    outcome.ended_at = now;
    store::Transition transition;
    transition.next = model::JobState::delayed;
    transition.run_at = now + m_options.host_error_backoff;
    transition.error = outcome.error;
    transition.refund_attempt = true;
    {
        std::lock_guard lock(m_mutex);
        ++m_stats.host_errors;
    }
    // Fewer workers until starts succeed again: half of those still running.
    bool lowered;
    std::size_t cap;
    {
        // Under the lock: an attempt's thread reads the cap when it starts a held job.
        std::lock_guard lock(m_mutex);
        cap = std::max<std::size_t>(1, m_running.size() / 2);
        lowered = !m_worker_cap || cap < m_worker_cap;
        if (lowered) m_worker_cap = cap;
        else cap = m_worker_cap;
    }
    m_worker_cap_changed_at = now;
    if (now >= m_claims_paused_until || lowered) {
        log_event(level_enum::warn, "host short of resources",
                  {{"error", *running.host_error},
                   {"pause_ms", std::int64_t(m_options.host_error_backoff.count())},
                   {"max_workers_now", std::int64_t(cap)}});
    }
    m_claims_paused_until = now + m_options.host_error_backoff;
    return transition;
}

// An attempt's worker started: while the host runs fewer workers after a shortage, one more
// once a back-off has passed since the last shortage or the last raise. Raised on every start,
// a host short of descriptors for its fourth worker would climb back to four within a few
// jobs and stop claiming for a back-off again and again.
void Host::worker_started(model::TimePoint now)
{
    std::size_t max_workers;
    {
        // Written by the run loop alone, read by attempts' threads under the lock.
        std::lock_guard lock(m_mutex);
        if (!m_worker_cap) return;
        if (now - m_worker_cap_changed_at < m_options.host_error_backoff) return;
        m_worker_cap_changed_at = now;
        max_workers = m_settings->host.max_workers;
        if (++m_worker_cap < max_workers) return;
        m_worker_cap = 0;
    }
    log_event(level_enum::info, "host resources recovered", {{"max_workers", std::int64_t(max_workers)}});
}

void Host::poll_cancels_and_renew(model::TimePoint now, bool renew_all)
{
    if (m_running.empty()) return;
    const auto lease = this->lease();
    try {
        for (model::JobId id : m_store->cancel_requests(m_holder)) {
            auto it = m_running.find(id);
            if (it != m_running.end() && it->second->cancel && !it->second->cancel->requested()) {
                log_event(level_enum::info, "attempt cancel requested", {{"job", id}});
                it->second->request_cancel();
            }
        }
        for (auto& [id, running] : m_running) {
            if (running->lease_lost || running->lease_expired) continue;
            if (!renew_all && now - running->lease_renewed < lease / 3) continue;
            if (m_store->renew(id, running->claim.attempt_id, now + lease)) {
                {
                    // An attempt's thread that starts a held job reads how long its lease runs.
                    std::lock_guard lock(m_mutex);
                    running->lease_renewed = now;
                    running->lease_expires = now + lease;
                }
                if (running->cancel) running->cancel->renew_lease(std::chrono::steady_clock::now() + lease - worker_lease_margin());
            } else {
                // Someone recovered the job: its result would be refused, and another attempt
                // runs it now, so the worker is stopped at once.
                {
                    std::lock_guard lock(m_mutex);
                    running->lease_lost = true;
                }
                running->request_cancel(sandbox::CancelToken::Stop::at_once);
                log_event(level_enum::warn, "lease lost", {{"job", id}, {"attempt", std::int64_t(running->claim.number)}});
            }
        }
        store_answered(now, true);
    } catch (const std::exception& e) {
        store_failed("renewing leases", e, now);
    }
}

void Host::stop_expired_leases(model::TimePoint now)
{
    for (auto& [id, running] : m_running) {
        if (running->lease_lost || running->lease_expired || now < running->lease_expires) continue;
        {
            std::lock_guard lock(m_mutex);
            running->lease_expired = true;
            ++m_stats.leases_expired;
        }
        running->request_cancel();
        log_event(level_enum::warn, "lease expired",
                  {{"job", id},
                   {"attempt", std::int64_t(running->claim.number)},
                   {"why", std::string("it could not be renewed in time; the attempt stops, another host may take the job over")}});
    }
}

void Host::store_failed(const char* doing, const std::exception& error, model::TimePoint now)
{
    ++m_store_failed_calls;
    m_store_backoff = m_store_failing ? std::min(m_store_backoff * 2, m_options.store_retry_max) : m_options.store_retry_first;
    m_store_retry_at = now + m_store_backoff;
    if (m_store_failing) return;
    m_store_failing = true;
    m_store_failing_since = now;
    m_store_failed_calls = 1;
    {
        std::lock_guard lock(m_mutex);
        m_stats.store_failing = true;
    }
    log_event(level_enum::err, "store failing",
              {{"doing", std::string(doing)},
               {"error", std::string(error.what())},
               {"running", std::int64_t(m_running.size())},
               {"then", std::string("no claims; records of attempts that end are kept and written once it answers")}});
}

void Host::store_answered(model::TimePoint now, bool leases_renewed)
{
    if (!m_store_failing) return;
    m_store_failing = false;
    {
        std::lock_guard lock(m_mutex);
        m_stats.store_failing = false;
    }
    log_event(level_enum::info, "store answers again",
              {{"down_ms", std::int64_t(std::chrono::duration_cast<std::chrono::milliseconds>(now - m_store_failing_since).count())},
               {"failed_calls", std::int64_t(m_store_failed_calls)},
               {"records_kept", std::int64_t(m_unrecorded.size())},
               {"records_dropped", std::int64_t(m_dropped_since_failure)}});
    m_dropped_since_failure = 0;
    // Leases first: they run out while the kept records wait.
    if (!leases_renewed) poll_cancels_and_renew(now, true);
}

void Host::keep_unrecorded(Unrecorded unrecorded)
{
    if (m_unrecorded.size() >= m_options.max_unrecorded && !m_unrecorded.empty()) {
        // Its job stays active under this host's lease, which no one renews now: it is
        // recovered as worker_lost once the lease runs out, and runs again.
        m_unrecorded.pop_front();
        if (m_dropped_since_failure++ == 0) {
            log_event(level_enum::err, "attempt records dropped",
                      {{"kept", std::int64_t(m_options.max_unrecorded)},
                       {"why", std::string("more records wait for the store than the host keeps; the jobs of the oldest run again "
                                           "once their lease expires")}});
        }
        std::lock_guard lock(m_mutex);
        ++m_stats.records_dropped;
    }
    m_unrecorded.push_back(std::move(unrecorded));
    std::lock_guard lock(m_mutex);
    m_stats.unrecorded = m_unrecorded.size();
}

void Host::write_unrecorded(model::TimePoint now)
{
    while (!m_unrecorded.empty() && store_due(now)) {
        Unrecorded& oldest = m_unrecorded.front();
        std::optional<model::JobState> applied;
        try {
            applied = m_store->finish(oldest.record, oldest.transition, now);
        } catch (const std::exception& e) {
            store_failed("recording an attempt", e, now);
            return;
        }
        store_answered(now);
        {
            std::lock_guard lock(m_mutex);
            if (applied) ++m_stats.recorded_late;
            else ++m_stats.refused;
        }
        recorded(oldest.claim, oldest.record.outcome.kind, applied, oldest.claimed, oldest.started);
        log_event(applied ? level_enum::info : level_enum::warn, "attempt recorded late",
                  {{"job", oldest.claim.job.id},
                   {"attempt", std::int64_t(oldest.claim.number)},
                   {"outcome", std::string(model::to_string(oldest.record.outcome.kind))},
                   {"next", applied ? std::string(model::to_string(*applied)) : std::string("refused: stale lease")}});
        m_unrecorded.pop_front();
        std::lock_guard lock(m_mutex);
        m_stats.unrecorded = m_unrecorded.size();
    }
}

} // namespace sandhost::scheduler
