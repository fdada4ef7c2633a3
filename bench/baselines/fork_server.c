/* Baselines fork_no_exec and pipe_roundtrip: a small process that holds the plugin and
 * answers requests ("N\n" -> "N+1\n") on stdin/stdout, either in a forked child per request
 * (argv[2] = "fork") or itself (argv[2] = "pipe"). */
#include "task_runner.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const sh_task_t *task;
    int forking;
    char request[64];
    char reply[64];
    if (argc < 3) return 2;
    task = bench_load_task(argv[1]);
    if (!task) return 3;
    forking = strcmp(argv[2], "fork") == 0;
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
                length = bench_run(task, request, reply, sizeof reply);
                _exit(write(1, reply, length) == (ssize_t)length ? 0 : 1);
            }
            while (waitpid(child, &status, 0) < 0) {
            }
        }
    }
}
