#include "worker/job_runner.h"

#include "os/proc.h"
#include "worker/failure.h"
#include "worker/group_entry.h"
#include "worker/host_death.h"

#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace sandhost::worker {
namespace {

using protocol::MessageType;
using protocol::WorkerExit;

// The task's reports, over the channel.
class ChannelSink final : public plugin::TaskSink {
public:
    explicit ChannelSink(WorkerChannel& channel) : m_channel(channel) {}
    void log(sh_log_level_t level, std::string_view message) override
    {
        protocol::Log m{static_cast<std::uint8_t>(level), std::string(message)};
        m_channel.send(MessageType::log, protocol::encode(m));
    }
    void progress(double percent, std::string_view message) override
    {
        m_channel.send(MessageType::progress, protocol::encode(protocol::Progress{percent, std::string(message)}));
    }
    void heartbeat() override { m_channel.send(MessageType::heartbeat, {}); }
    bool poll_cancel() override { return m_channel.poll_cancel(); }

private:
    WorkerChannel& m_channel;
};

// Whether this process has any child at all, alive or not (without reaping one).
bool has_children()
{
    siginfo_t info{};
    return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

// Milliseconds since the Unix epoch. clock_gettime cannot fail for CLOCK_REALTIME.
std::int64_t wall_clock_ms()
{
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

protocol::Done::Status done_status(plugin::TaskReport::Status status)
{
    switch (status) {
    case plugin::TaskReport::Status::ok: return protocol::Done::Status::ok;
    case plugin::TaskReport::Status::error: return protocol::Done::Status::error;
    case plugin::TaskReport::Status::result_too_large: return protocol::Done::Status::result_too_large;
    case plugin::TaskReport::Status::out_of_memory: return protocol::Done::Status::out_of_memory;
    }
    return protocol::Done::Status::error;
}

} // namespace

JobRunner::JobRunner(WorkerChannel& channel, Role role, const plugin::LibraryLoader& loader, std::uint64_t inherited_max_rss_kb)
    : m_channel(&channel), m_role(role), m_loader(loader), m_inherited_max_rss_kb(inherited_max_rss_kb)
{
}

void JobRunner::become_job_child(WorkerChannel& channel)
{
    m_channel = &channel;
    m_role = Role::spawn;
    m_ready_implied = true;
    // A forked process starts with no inherited peak: the kernel keeps one for what a process
    // was exec'd over, and fork gives the child a fresh record; its ru_maxrss is its own
    // address space's peak (VmHWM), with no /proc read.
    m_inherited_max_rss_kb = 0;
}

bool JobRunner::preload(const protocol::Job& job)
{
    if (!ensure_loaded(job, Init::yes)) return false;
    m_limiter.prime();
    return true;
}

bool JobRunner::handle_job(const protocol::Job& job)
{
    watch_lease(job);
    struct JobOver {
        JobRunner& runner;
        ~JobOver() { runner.job_over(); }
    } job_over{*this};
    if (auto problem = m_limiter.apply(job.limits)) return fail_load("cannot apply limits: " + *problem);
    enter_job_folders(job);
    // Describing a plugin reads its descriptor and nothing more: listing plugins must not
    // wait for, or fail by, what their init hooks do.
    if (!ensure_loaded(job, job.describe ? Init::no : Init::yes)) return false;
    if (job.describe) {
        describe();
        return false;
    }
    const sh_task_t* task = m_library->find_task(job.task);
    if (!task) {
        return fail_load("plugin " + std::string(m_library->name()) + " has no task '" + job.task + "' (its tasks: " + m_library->task_names() + ")",
                         true);
    }
    if (!m_ready_implied && !send_ready()) return false;

    // The job's clock starts now, at ready (sent or implied): so does the deadline's count.
    plugin::JobInfo info;
    info.job_id = job.job_id;
    info.attempt = job.attempt;
    info.queue = job.queue;
    info.task = job.task;
    if (job.timeout_ms > 0) info.deadline_ms = wall_clock_ms() + static_cast<std::int64_t>(job.timeout_ms);
    ChannelSink sink(*m_channel);
    plugin::TaskCall call(sink, job.max_result);
    auto report = call.run(*task, job.payload, info);
    std::fflush(nullptr);
    end_leftovers();
    if (m_role == Role::spawn) shutdown_plugin();
    m_limiter.note_cpu_used(send_done(report));
    // A failed task may have left its state half-changed: never reuse the process.
    return m_role == Role::reuse && report.status == plugin::TaskReport::Status::ok;
}

// Every job of a reused worker, and every forked child, moves into its own attempt's folder:
// nothing of one job's files is where the next looks. A folder the worker cannot enter (a
// workdir its user may not reach) ends the worker with WorkerExit::setup_failed, before the
// plugin loads for a spawned worker.
void JobRunner::enter_job_folders(const protocol::Job& job)
{
    if (job.tmpdir.empty()) return;
    if (::setenv("TMPDIR", job.tmpdir.c_str(), 1) != 0) fail(WorkerExit::setup_failed, "setenv", "TMPDIR", errno);
    const std::string& folder = job.workdir.empty() ? job.tmpdir : job.workdir;
    if (::chdir(folder.c_str()) != 0) fail(WorkerExit::setup_failed, "chdir", folder.c_str(), errno);
}

void JobRunner::shutdown_plugin()
{
    if (!m_library || !m_initialised) return;
    if (sh_shutdown_fn shutdown = m_library->shutdown_hook()) shutdown();
    std::fflush(nullptr);
}

void JobRunner::watch_lease(const protocol::Job& job)
{
    m_channel->begin_job(job.lease_ms);
    if (job.lease_ms == 0) return;
    if (m_lease_watch) {
        m_lease_watch->job_began();
        return;
    }
    // A new thread reads the deadline itself.
    auto started = LeaseWatch::start(*m_channel);
    if (!started) fail(WorkerExit::setup_failed, started.error().call.c_str(), started.error().object.c_str(), started.error().code.value());
    m_lease_watch = std::move(started.value());
}

// The watch thread is not told: it finds no lease when it next wakes, and sleeps until a job
// that begins wakes it.
void JobRunner::job_over() { m_channel->end_job(); }

bool JobRunner::ensure_loaded(const protocol::Job& job, Init init)
{
    if (m_library && m_library->path() != job.plugin_path) return fail_load("this worker already serves plugin " + m_library->path());
    // The plugin's own code runs from here (its constructors, then its init hook): should the
    // worker die before it says loaded, the host knows the plugin killed it, not a task.
    const bool loads = !m_library || (init == Init::yes && !m_initialised);
    if (!loads) return true;
    if (!m_channel->send(MessageType::loading, {})) return false;
    if (!m_library) {
        auto opened = plugin::PluginLibrary::open(job.plugin_path, m_loader);
        if (auto* message = std::get_if<std::string>(&opened)) return fail_load(*message);
        m_library.emplace(std::move(std::get<plugin::PluginLibrary>(opened)));
    }
    if (init == Init::yes && !m_initialised && !initialise()) return false;
    // Goes out with what every caller sends next (ready, the description, load_failed for a
    // missing task): one wakeup of the host for both.
    m_channel->hold(MessageType::loaded, {});
    return true;
}

bool JobRunner::initialise()
{
    if (sh_init_fn init = m_library->init_hook()) {
        ChannelSink sink(*m_channel);
        plugin::TaskCall call(sink, 0);
        auto report = call.run_init(init);
        if (report.status != plugin::TaskReport::Status::ok) {
            return fail_load("plugin " + std::string(m_library->name()) + " failed to initialise: " + report.data);
        }
    }
    m_initialised = true;
    return true;
}

void JobRunner::describe()
{
    protocol::Description d;
    d.name = m_library->name();
    d.version = m_library->version();
    for (std::size_t i = 0; i < m_library->task_count(); ++i) {
        const auto& t = m_library->task(i);
        d.tasks.push_back({t.name, t.description ? t.description : ""});
    }
    m_channel->send(MessageType::description, protocol::encode(d));
}

// Ready starts the job's clock and carries the memory baseline (what the process had mapped
// but not touched): only a worker's first job sends it. The host counts a reused worker's
// later jobs, and a forked child's, as ready once sent.
bool JobRunner::send_ready()
{
    if (!m_channel->send(MessageType::ready, protocol::encode(memory_baseline(::getpid())))) return false;
    m_ready_implied = true;
    return true;
}

std::uint64_t JobRunner::send_done(const plugin::TaskReport& report)
{
    protocol::Done done;
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);  // cannot fail for RUSAGE_SELF and a valid buffer
    done.cpu_us = cpu_us_of(self);
    done.max_rss_kb = own_peak_rss_kb(self);
    done.permanent = report.permanent;
    done.status = done_status(report.status);
    done.data = report.data;
    done.result_size = report.result_size;
    m_channel->send(MessageType::done, protocol::encode(done));
    return done.cpu_us;
}

// This process's peak resident size, without what it inherited: ru_maxrss when it grew past
// the inherited figure, else VmHWM from /proc. Resident memory only grows through page
// faults, so while the fault count stands still the last VmHWM read stands too: a reused
// worker whose jobs touch no new memory reads /proc once. A forked child inherits nothing
// (become_job_child), so it never reads /proc.
std::uint64_t JobRunner::own_peak_rss_kb(const rusage& self)
{
    const auto reported = static_cast<std::uint64_t>(self.ru_maxrss);
    if (reported > m_inherited_max_rss_kb) return reported;
    const auto faults = static_cast<std::uint64_t>(self.ru_minflt) + static_cast<std::uint64_t>(self.ru_majflt);
    if (faults != m_faults_at_last_read) {
        m_peak_at_last_read = os::read_peak_rss_kb(::getpid()).value_or(reported);
        m_faults_at_last_read = faults;
    }
    return m_peak_at_last_read;
}

bool JobRunner::fail_load(const std::string& message, bool task_missing)
{
    m_channel->send(MessageType::load_failed, protocol::encode(protocol::LoadFailed{message, task_missing}));
    return false;
}

protocol::Ready memory_baseline(pid_t self)
{
    protocol::Ready ready;
    if (auto memory = os::read_memory(self)) {
        ready.vm_size_kb = memory->size_kb;
        ready.rss_kb = memory->rss_kb;
    }
    return ready;
}

std::optional<protocol::Job> receive_job(WorkerChannel& channel, const JobRunner& runner)
{
    for (;;) {
        auto frame = channel.receive();
        if (!frame) break;
        if (frame->type == MessageType::shutdown) return std::nullopt;
        if (frame->type == MessageType::cancel) continue;  // for a job that is over: nothing to cancel
        if (frame->type == MessageType::enter_group) {
            const auto entry = protocol::decode_enter_group(frame->body);
            auto files = channel.take_received_fds();
            if (!entry || entry->files == 0 || entry->files > k_max_group_files || files.size() != entry->files) {
                fail(WorkerExit::broken_frame, "enter_group message from the host without the files it names");
            }
            // v1's `tasks` moves the calling thread alone: with another thread running, part
            // of the worker would stay out of the group.
            if (!runner.single_threaded()) fail(WorkerExit::unexpected_message, "'enter_group' from the host once threads may have started");
            enter_group(files);
            continue;
        }
        if (frame->type != MessageType::job) {
            fail(WorkerExit::unexpected_message, (std::string("unexpected '") + protocol::to_string(frame->type) + "' from the host between jobs").c_str());
        }
        auto job = protocol::decode_job(frame->body);
        if (!job) fail(WorkerExit::broken_frame, "malformed job message from the host");
        return job;
    }
    if (channel.end() == WorkerChannel::End::broken) fail(WorkerExit::broken_frame, channel.problem().c_str());
    if (channel.end() == WorkerChannel::End::failed) fail(WorkerExit::host_gone, channel.problem().c_str());
    return std::nullopt;
}

void end_leftovers()
{
    if (!has_children()) return;  // the usual case, without reading /proc
    for (int round = 0; round < 64; ++round) {
        const auto children = os::children_of(::getpid());
        if (children.empty()) return;
        for (pid_t child : children) kill_with_descendants(child);
        while (::waitpid(-1, nullptr, __WALL) > 0 || errno == EINTR) {
        }
    }
}

} // namespace sandhost::worker
