/* Baselines fork_no_exec, fork_no_exec_grouped and pipe_roundtrip: a small process that holds
 * the plugin and answers requests ("N\n" -> "N+1\n") on stdin/stdout, either in a forked child
 * per request (argv[2] = "fork"), in a forked child that first moves itself into a control group
 * (argv[2] = "grouped", argv[3...] the file of each hierarchy's folder of the group that a
 * process enters by: v1 `tasks`, v2 cgroup.procs) or
 * itself (argv[2] = "pipe"). */
#include "task_runner.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const sh_task_t *task;
    int forking;
    int procs[8];
    int groups = 0;
    char request[64];
    char reply[64];
    if (argc < 3) return 2;
    task = bench_load_task(argv[1]);
    if (!task) return 3;
    forking = strcmp(argv[2], "fork") == 0 || strcmp(argv[2], "grouped") == 0;
    if (strcmp(argv[2], "grouped") == 0) {
        for (groups = 0; groups < argc - 3 && groups < 8; ++groups) {
            procs[groups] = open(argv[3 + groups], O_WRONLY | O_CLOEXEC);
            if (procs[groups] < 0) return 5;
        }
    }
    for (;;) {
        ssize_t n = read(0, request, sizeof request - 1);
        size_t length;
        if (n <= 0) return 0;
        request[n] = '\0';
        if (!forking) {
            length = bench_run(task, request, reply, sizeof reply);
            if (write(1, reply, length) != (ssize_t)length) return 1;
            continue;
        }
        {
            const pid_t child = fork();
            int status;
            if (child < 0) return 4;
            if (child == 0) {
                int g;
                /* "0": the writer itself, one write per hierarchy, as a job child is moved. */
                for (g = 0; g < groups; ++g) {
                    if (write(procs[g], "0", 1) != 1) _exit(6);
                }
                length = bench_run(task, request, reply, sizeof reply);
                _exit(write(1, reply, length) == (ssize_t)length ? 0 : 1);
            }
            while (waitpid(child, &status, 0) < 0) {
            }
        }
    }
}
