#include "worker/host_death.h"

#include "os/unique_fd.h"
#include "worker/failure.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace sandhost::worker {
namespace {

// Everything below runs in a signal handler: only async-signal-safe calls (open, read,
// close, kill, _exit) and no allocation.

int parse_int(const char*& p, const char* end)
{
    int value = 0;
    while (p < end && *p >= '0' && *p <= '9') value = value * 10 + (*p++ - '0');
    return value;
}

char* append(char* out, const char* text)
{
    while (*text) *out++ = *text++;
    return out;
}

char* append_int(char* out, int value)
{
    char digits[16];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (n > 0) *out++ = digits[--n];
    return out;
}

void kill_descendants_below(pid_t pid, int depth)
{
    if (depth > 64) return;
    char path[64];
    char* p = append(path, "/proc/");
    p = append_int(p, pid);
    p = append(p, "/task/");
    p = append_int(p, pid);
    p = append(p, "/children");
    *p = '\0';
    char buffer[4096];
    ssize_t n;
    {
        // A process that is gone has no children file: nothing to kill below it.
        const os::UniqueFd children(::open(path, O_RDONLY | O_CLOEXEC));
        if (!children) return;
        n = ::read(children.get(), buffer, sizeof buffer);
    }
    if (n <= 0) return;
    const char* q = buffer;
    const char* end = buffer + n;
    while (q < end) {
        if (*q < '0' || *q > '9') {
            ++q;
            continue;
        }
        const int child = parse_int(q, end);
        ::kill(child, SIGSTOP);
        kill_descendants_below(child, depth + 1);
        ::kill(child, SIGKILL);
    }
}

void on_host_death(int)
{
    kill_descendants(::getpid());
    exit_with(protocol::WorkerExit::host_died);
}

} // namespace

int host_death_signal() { return SIGRTMAX - 1; }

void install_host_death_handler(pid_t expected_parent) noexcept
{
    struct sigaction action {};
    action.sa_handler = on_host_death;
    sigfillset(&action.sa_mask);
    if (::sigaction(host_death_signal(), &action, nullptr) != 0) {
        fail(protocol::WorkerExit::setup_failed, "sigaction", "host death signal", errno);
    }
    if (::prctl(PR_SET_PDEATHSIG, host_death_signal()) != 0) {
        fail(protocol::WorkerExit::setup_failed, "prctl", "PR_SET_PDEATHSIG", errno);
    }
    if (::getppid() != expected_parent) exit_with(protocol::WorkerExit::host_died);  // it died before we could ask
}

void kill_descendants(pid_t pid) noexcept { kill_descendants_below(pid, 0); }

void kill_with_descendants(pid_t root) noexcept
{
    ::kill(root, SIGSTOP);
    kill_descendants(root);
    ::kill(root, SIGKILL);
}

} // namespace sandhost::worker
