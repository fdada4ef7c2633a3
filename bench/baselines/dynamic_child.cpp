// Baseline posix_spawn_dynamic_dlopen: a dynamically linked C++ program (libstdc++ loaded,
// as in the worker) that dlopens the plugin given as argv[1], answers one request and exits.
#include "task_runner.h"

#include <string>
#include <unistd.h>

int main(int argc, char** argv)
{
    if (argc < 2) return 2;
    const sh_task_t* task = bench_load_task(argv[1]);
    if (!task) return 3;
    std::string request(64, '\0');
    const ssize_t n = ::read(0, request.data(), request.size() - 1);
    if (n <= 0) return 1;
    request.resize(static_cast<size_t>(n));
    char reply[64];
    const size_t length = bench_run(task, request.c_str(), reply, sizeof reply);
    return ::write(1, reply, length) == static_cast<ssize_t>(length) ? 0 : 1;
}
