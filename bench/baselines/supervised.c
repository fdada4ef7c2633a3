/* Baselines fork_no_exec_supervised and pipe_roundtrip_supervised: the worker's side of the
 * fork_no_exec and pipe_roundtrip baselines with the steps sandhost's supervision takes for every
 * job in fork and reuse mode, written as plainly as C allows, so that the bench can say what the
 * steps themselves cost, apart from sandhost's code. The host's side of each job is
 * sandhost-bench's (SupervisedFork, SupervisedReuse), in the thread that asks, as a mode's host
 * side is the attempt's thread. The channel is standard input, a unix socket.
 *
 * argv[1]: the plugin; argv[2]: the jobs' folder; argv[3]: "fork" or "reuse"; argv[4...] (reuse):
 * the files of the group's folders a process enters by.
 *
 * fork: a server holding the plugin. Each job comes as one byte with the job's descriptors
 * (SCM_RIGHTS: the job in, the result out, stdout, stderr, the exit status, then the group's
 * entry files). The server forks the job's child, answers its pid, and reaps each child
 * (SIGCHLD through a signalfd, wait4 with its resource use) into the job's status pipe. The
 * child closes the server's other descriptors, takes the signal mask, parent-death signal,
 * process group and subreaper role a job child has, redirects its output, enters the group
 * ("0" into each hierarchy's entry file), reads its request, moves into the job's folder with
 * TMPDIR there, runs the task, writes the result, reads its own resource use and exits.
 *
 * reuse: a worker alone in its group (entered once, at start), a subreaper, that answers each
 * request on its channel after moving into the job's folder, and before the answer makes sure
 * the job left no child (waitid) and reads its resource use.
 *
 * No lease, no limits changed, no syscall filter, no frames to encode or decode: what is left
 * out only makes these baselines faster. */
#define _GNU_SOURCE
#include "task_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { JOB_FDS = 5, MAX_GROUP_FILES = 8, MAX_COUNTERS = 16 };

struct status_record {
    int wait_status;
    long max_rss_kb;
    long user_us;
    long system_us;
};

static int send_fds(int socket, const void *data, size_t size, const int *fds, int count)
{
    char control[CMSG_SPACE(sizeof(int) * (JOB_FDS + MAX_GROUP_FILES))];
    struct iovec iov = {(void *)data, size};
    struct msghdr message;
    struct cmsghdr *header;
    memset(&message, 0, sizeof message);
    memset(control, 0, sizeof control);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
    header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
    memcpy(CMSG_DATA(header), fds, sizeof(int) * (size_t)count);
    return sendmsg(socket, &message, MSG_NOSIGNAL) == (ssize_t)size ? 0 : -1;
}

/* Receives one message and up to `most` descriptors; returns how many came, or -1. */
static int receive_fds(int socket, void *data, size_t size, int *fds, int most)
{
    char control[CMSG_SPACE(sizeof(int) * (JOB_FDS + MAX_GROUP_FILES))];
    struct iovec iov = {data, size};
    struct msghdr message;
    struct cmsghdr *header;
    int count = 0;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    if (recvmsg(socket, &message, MSG_CMSG_CLOEXEC) <= 0) return -1;
    for (header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
            count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            if (count > most) return -1;
            memcpy(fds, CMSG_DATA(header), sizeof(int) * (size_t)count);
        }
    }
    return count;
}

static void close_all(int *fds, int count)
{
    int i;
    for (i = 0; i < count; ++i) close(fds[i]);
}

/* ---- the job child ---- */

static const sh_task_t *g_task;
static const char *g_folder;

/* fds: the job in, the result out, stdout, stderr, the status (the server's), group files. */
static void run_job_child(int *fds, int count)
{
    sigset_t empty;
    char request[64];
    char reply[64];
    int g;
    ssize_t n;
    size_t length;
    struct rusage usage;
    int kept[JOB_FDS + MAX_GROUP_FILES];
    int kept_count = 0, i, j;
    unsigned int from = 3;
    /* Of the server's descriptors it keeps the job's (not the status pipe): fork mode's child
     * closes the rest, with close_range between the kept ones. */
    for (i = 0; i < count; ++i) {
        if (i == 4) continue;
        for (j = kept_count; j > 0 && kept[j - 1] > fds[i]; --j) kept[j] = kept[j - 1];
        kept[j] = fds[i];
        ++kept_count;
    }
    for (i = 0; i < kept_count; ++i) {
        if ((unsigned int)kept[i] > from && close_range(from, (unsigned int)kept[i] - 1, 0) != 0) _exit(9);
        from = (unsigned int)kept[i] + 1;
    }
    if (close_range(from, ~0u, 0) != 0) _exit(9);
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, NULL) != 0) _exit(10);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(11);
    if (setpgid(0, 0) != 0) _exit(12);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) _exit(13);
    if (dup2(fds[2], STDOUT_FILENO) < 0 || dup2(fds[3], STDERR_FILENO) < 0) _exit(14);
    close(fds[2]);
    close(fds[3]);
    for (g = JOB_FDS; g < count; ++g) {
        if (write(fds[g], "0", 1) != 1) _exit(15);
        close(fds[g]);
    }
    n = read(fds[0], request, sizeof request - 1);
    if (n <= 0) _exit(16);
    request[n] = '\0';
    if (chdir(g_folder) != 0 || setenv("TMPDIR", g_folder, 1) != 0) _exit(17);
    length = bench_run(g_task, request, reply, sizeof reply);
    if (write(fds[1], reply, length) != (ssize_t)length) _exit(18);
    getrusage(RUSAGE_SELF, &usage);
    _exit(0);
}

/* ---- the server ---- */

static void serve(int channel)
{
    sigset_t child_signals;
    int signals;
    pid_t job_pid = -1;
    int job_status = -1;
    sigemptyset(&child_signals);
    sigaddset(&child_signals, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &child_signals, NULL) != 0) _exit(20);
    signals = signalfd(-1, &child_signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signals < 0) _exit(21);
    for (;;) {
        struct pollfd fds[2] = {{channel, POLLIN, 0}, {signals, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) continue;
        if (fds[0].revents) {
            int passed[JOB_FDS + MAX_GROUP_FILES];
            char byte;
            const int count = receive_fds(channel, &byte, 1, passed, JOB_FDS + MAX_GROUP_FILES);
            pid_t child;
            if (count < JOB_FDS) _exit(0); /* the host is gone */
            child = fork();
            if (child == 0) run_job_child(passed, count);
            if (child < 0) _exit(22);
            if (write(channel, &child, sizeof child) != sizeof child) _exit(23);
            job_pid = child;
            job_status = passed[4];
            close_all(passed, 4);
            close_all(passed + JOB_FDS, count - JOB_FDS);
        }
        if (fds[1].revents) {
            struct signalfd_siginfo info;
            int status;
            struct rusage usage;
            pid_t reaped;
            while (read(signals, &info, sizeof info) > 0) {
            }
            while ((reaped = wait4(-1, &status, WNOHANG, &usage)) > 0) {
                if (reaped == job_pid) {
                    struct status_record record;
                    record.wait_status = status;
                    record.max_rss_kb = usage.ru_maxrss;
                    record.user_us = usage.ru_utime.tv_sec * 1000000L + usage.ru_utime.tv_usec;
                    record.system_us = usage.ru_stime.tv_sec * 1000000L + usage.ru_stime.tv_usec;
                    if (write(job_status, &record, sizeof record) != sizeof record) _exit(24);
                    close(job_status);
                    job_pid = -1;
                }
            }
        }
    }
}

/* ---- the reused worker ---- */

static void answer(int channel, int entries, char **entry_files)
{
    int g;
    for (g = 0; g < entries; ++g) {
        const int fd = open(entry_files[g], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) _exit(30);
        close(fd);
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) _exit(31);
    for (;;) {
        char request[64];
        char reply[64];
        struct pollfd wait = {channel, POLLIN, 0};
        siginfo_t info;
        struct rusage usage;
        size_t length;
        ssize_t n;
        if (poll(&wait, 1, -1) < 0) continue;
        n = recv(channel, request, sizeof request - 1, 0);
        if (n <= 0) _exit(0);
        request[n] = '\0';
        if (chdir(g_folder) != 0) _exit(32);
        length = bench_run(g_task, request, reply, sizeof reply);
        memset(&info, 0, sizeof info);
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0) _exit(33); /* a child left */
        getrusage(RUSAGE_SELF, &usage);
        if (send(channel, reply, length, MSG_NOSIGNAL) != (ssize_t)length) _exit(34);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    g_task = bench_load_task(argv[1]);
    if (!g_task) return 3;
    g_folder = argv[2];
    if (strcmp(argv[3], "reuse") == 0) answer(0, argc - 4, argv + 4);
    else serve(0);
    return 0;
}
