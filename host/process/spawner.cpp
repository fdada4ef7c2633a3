#include "process/spawner.h"

#include "os/proc.h"
#include "os/process_tree.h"

#include <cstdlib>
#include <csignal>
#include <cstring>
#include <future>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandhost::process {
namespace {

os::UniqueFd open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return os::UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
#else
    (void)pid;
    return os::UniqueFd();
#endif
}

} // namespace

Spawner::Spawner()
{
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    m_launchers[static_cast<int>(LauncherKind::poco)] = make_launcher(LauncherKind::poco);
    m_launchers[static_cast<int>(LauncherKind::posix_spawn)] = make_launcher(LauncherKind::posix_spawn);
    std::promise<void> started;
    auto ready = started.get_future();
    m_thread = std::thread([this, &started] {
        m_launch_tid = static_cast<pid_t>(::syscall(SYS_gettid));
        started.set_value();
        run_launch_thread();
    });
    ready.wait();
}

Spawner::~Spawner()
{
    // A child still registered belongs to a WorkerSession or ChildProcess that outlived us:
    // end it here, while its parent thread still exists to be its parent.
    for (pid_t pid : live_children()) {
        os::kill_tree(pid, os::IncludeRoot::yes);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        forget(pid);
    }
    reap_strays();
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_one();
    m_thread.join();
}

LauncherKind Spawner::default_launcher()
{
    if (const char* choice = std::getenv("SANDHOST_LAUNCHER")) {
        if (std::strcmp(choice, "poco") == 0) return LauncherKind::poco;
        if (std::strcmp(choice, "posix_spawn") == 0) return LauncherKind::posix_spawn;
    }
    return LauncherKind::posix_spawn;
}

void Spawner::run_launch_thread()
{
    // This thread takes no signals: they belong to whoever handles them in the host. The
    // workers start from a clean signal state anyway (the launcher and the worker reset it).
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [this] { return !m_queue.empty() || m_stopping; });
            if (m_queue.empty()) return;
            job = std::move(m_queue.front());
            m_queue.pop_front();
        }
        job();
    }
}

os::Result<ChildProcess> Spawner::launch(const LaunchRequest& request, LauncherKind kind)
{
    std::promise<os::Result<pid_t>> done;
    auto result = done.get_future();
    {
        std::lock_guard lock(m_mutex);
        m_queue.emplace_back([&] {
            // Registration happens under the same lock as the launch, so reap_strays() never
            // mistakes a child that was just born for a stray.
            std::lock_guard registry(m_mutex);
            auto launched = m_launchers[static_cast<int>(kind)]->launch(request);
            if (launched.ok()) m_children.insert(launched.value());
            done.set_value(std::move(launched));
        });
    }
    m_wake.notify_one();
    auto launched = result.get();
    if (!launched.ok()) return launched.error();
    const pid_t pid = launched.value();
    return ChildProcess(this, pid, open_pidfd(pid));
}

int Spawner::reap_strays()
{
    int reaped = 0;
    std::lock_guard lock(m_mutex);
    for (int round = 0; round < 1000; ++round) {
        bool found = false;
        // The launch thread is every worker's parent, and the kernel hands the orphans of a
        // dead worker to the subreaper's first live thread, the main one. Children that other
        // threads started themselves are none of our business.
        const pid_t self = ::getpid();
        const pid_t tid = m_launch_tid.load();
        auto candidates = os::children_of_thread(self, self);
        if (tid && tid != self) {
            const auto launched = os::children_of_thread(self, tid);
            candidates.insert(candidates.end(), launched.begin(), launched.end());
        }
        for (pid_t pid : candidates) {
            if (m_children.count(pid)) continue;
            found = true;
            os::kill_tree(pid, os::IncludeRoot::yes);
            int status = 0;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            ++reaped;
        }
        if (!found) break;
    }
    return reaped;
}

std::set<pid_t> Spawner::live_children() const
{
    std::lock_guard lock(m_mutex);
    return m_children;
}

void Spawner::forget(pid_t pid)
{
    std::lock_guard lock(m_mutex);
    m_children.erase(pid);
}

// ChildProcess ---------------------------------------------------------------------------

ExitStatus ExitStatus::from_wait_status(int status)
{
    ExitStatus result;
    if (WIFSIGNALED(status)) {
        result.kind = Kind::signalled;
        result.signal_number = WTERMSIG(status);
        result.core_dumped = WCOREDUMP(status);
    } else {
        result.kind = Kind::exited;
        result.exit_code = WEXITSTATUS(status);
    }
    return result;
}

std::string ExitStatus::describe() const
{
    if (kind == Kind::exited) return "exit code " + std::to_string(exit_code);
    std::string text = "signal " + std::to_string(signal_number);
    if (const char* abbrev = ::sigabbrev_np(signal_number)) text = std::string("signal SIG") + abbrev;
    if (core_dumped) text += " (core dumped)";
    return text;
}

ChildProcess::ChildProcess(Spawner* spawner, pid_t pid, os::UniqueFd pidfd)
    : m_spawner(spawner), m_pid(pid), m_pidfd(std::move(pidfd))
{
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : m_spawner(std::exchange(other.m_spawner, nullptr)),
      m_pid(std::exchange(other.m_pid, -1)),
      m_pidfd(std::move(other.m_pidfd)),
      m_termination(std::move(other.m_termination))
{
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept
{
    if (this != &other) {
        release();
        m_spawner = std::exchange(other.m_spawner, nullptr);
        m_pid = std::exchange(other.m_pid, -1);
        m_pidfd = std::move(other.m_pidfd);
        m_termination = std::move(other.m_termination);
    }
    return *this;
}

ChildProcess::~ChildProcess() { release(); }

void ChildProcess::release()
{
    if (m_pid > 0 && !m_termination) {
        os::kill_tree(m_pid, os::IncludeRoot::yes);
        reap();
    }
    m_pid = -1;
    m_pidfd.reset();
}

std::optional<Termination> ChildProcess::try_reap() { return wait(false); }

Termination ChildProcess::reap() { return *wait(true); }

std::optional<Termination> ChildProcess::wait(bool block)
{
    if (m_termination || m_pid <= 0) return m_termination;
    int status = 0;
    rusage usage{};
    pid_t rc;
    do {
        rc = ::wait4(m_pid, &status, block ? 0 : WNOHANG, &usage);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return std::nullopt;
    Termination termination;
    if (rc < 0) {
        // Only possible if someone else reaped our child: report it as killed, the safest reading.
        termination.status.kind = ExitStatus::Kind::signalled;
        termination.status.signal_number = SIGKILL;
    } else {
        termination.status = ExitStatus::from_wait_status(status);
        termination.usage.max_rss_kb = static_cast<std::uint64_t>(usage.ru_maxrss);
        termination.usage.user_cpu = std::chrono::seconds(usage.ru_utime.tv_sec) + std::chrono::microseconds(usage.ru_utime.tv_usec);
        termination.usage.system_cpu = std::chrono::seconds(usage.ru_stime.tv_sec) + std::chrono::microseconds(usage.ru_stime.tv_usec);
    }
    m_termination = termination;
    if (m_spawner) m_spawner->forget(m_pid);
    return m_termination;
}

void ChildProcess::signal(int signal_number) const
{
    if (running()) ::kill(m_pid, signal_number);
}

void ChildProcess::signal_group(int signal_number) const
{
    if (running()) {
        ::kill(-m_pid, signal_number);
        ::kill(m_pid, signal_number);  // in case the worker has not yet made its own group
    }
}

} // namespace sandhost::process
