#include "sandbox/worker_process.h"

#include "os/process_tree.h"
#include "protocol/messages.h"
#include "sandbox/stop_policy.h"

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

class SpawnedProcess final : public WorkerProcess {
public:
    explicit SpawnedProcess(process::ChildProcess child) : m_child(std::move(child)) {}
    pid_t pid() const override { return m_child.pid(); }
    int exit_fd() const override { return m_child.exit_fd(); }
    std::optional<process::Termination> try_reap() override { return m_child.try_reap(); }
    process::Termination reap() override { return m_child.reap(); }
    const std::optional<process::Termination>& termination() const override { return m_child.termination(); }
    void signal_group(int signal_number) const override { m_child.signal_group(signal_number); }

private:
    process::ChildProcess m_child;
};

class ForkedProcess final : public WorkerProcess {
public:
    ForkedProcess(pid_t pid, os::UniqueFd status, ChildLeaseRenewer renewer)
        : m_pid(pid), m_status(std::move(status)), m_renewer(std::move(renewer))
    {
    }
    // End-of-life rule, as for a spawned worker: kill the tree, wait for the server's word.
    ~ForkedProcess() override
    {
        if (running()) stop_and_reap(*this, kill_steps());
    }
    pid_t pid() const override { return m_pid; }
    int exit_fd() const override { return m_termination ? -1 : m_status.get(); }
    const std::optional<process::Termination>& termination() const override { return m_termination; }
    void signal_group(int signal_number) const override
    {
        if (!m_termination) {
            ::kill(-m_pid, signal_number);
            ::kill(m_pid, signal_number);
        }
    }
    bool reaper_lost() const override { return m_reaper_lost; }
    bool renew_lease(std::chrono::milliseconds left) override
    {
        if (!m_renewer) return false;
        if (!m_termination) m_renewer(m_pid, left);
        return true;
    }
    std::optional<std::int64_t> lease_overdue_ms() const override { return m_lease_overdue_ms; }

    std::optional<process::Termination> try_reap() override
    {
        if (!m_termination) read_status(false);
        return m_termination;
    }
    process::Termination reap() override
    {
        while (!m_termination) read_status(true);
        return *m_termination;
    }

private:
    void read_status(bool block)
    {
        if (block) {
            pollfd fd{m_status.get(), POLLIN, 0};
            ::poll(&fd, 1, -1);
        }
        char buffer[64];
        const ssize_t n = ::read(m_status.get(), buffer, sizeof buffer);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n > 0) m_bytes.append(buffer, static_cast<std::size_t>(n));
        if (m_bytes.size() >= protocol::k_child_status_size) {
            if (auto record = protocol::decode_child_status(std::string_view(m_bytes).substr(0, protocol::k_child_status_size))) {
                process::Termination t;
                t.status = process::ExitStatus::from_wait_status(record->wait_status);
                t.usage.max_rss_kb = record->max_rss_kb;
                t.usage.user_cpu = std::chrono::microseconds(record->user_cpu_us);
                t.usage.system_cpu = std::chrono::microseconds(record->system_cpu_us);
                if (record->lease_overdue_ms >= 0) m_lease_overdue_ms = record->lease_overdue_ms;
                m_termination = t;
                return;
            }
        }
        if (n <= 0) {
            // The server closed the pipe without a word: it died, and took the child with it
            // (the child's parent-death signal). Make sure of it.
            os::kill_tree(m_pid, os::IncludeRoot::yes);
            process::Termination t;
            t.status.kind = process::ExitStatus::Kind::signalled;
            t.status.signal_number = SIGKILL;
            m_termination = t;
            m_reaper_lost = true;
        }
    }

    pid_t m_pid;
    os::UniqueFd m_status;
    std::string m_bytes;
    std::optional<process::Termination> m_termination;
    bool m_reaper_lost = false;
    ChildLeaseRenewer m_renewer;
    std::optional<std::int64_t> m_lease_overdue_ms;
};

} // namespace

std::unique_ptr<WorkerProcess> spawned_process(process::ChildProcess child) { return std::make_unique<SpawnedProcess>(std::move(child)); }

std::unique_ptr<WorkerProcess> forked_process(pid_t pid, os::UniqueFd status, ChildLeaseRenewer renewer)
{
    return std::make_unique<ForkedProcess>(pid, std::move(status), std::move(renewer));
}

} // namespace sandhost::sandbox
