// sandhost-worker: runs plugin tasks for the host (one per process in spawn and fork modes).
// Built twice: sandhost-worker loads plugins with dlopen (on Linux: nothing but libc and
// libstdc++ to load before ready), sandhost-worker-poco with Poco::SharedLibrary.
#include "worker/worker_main.h"

#if defined(__SANITIZE_ADDRESS__)
// The worker's job is to let tasks crash and report how: AddressSanitizer must not turn a
// SIGSEGV or SIGABRT into its own report and exit code, nor check for leaks at exit.
extern "C" const char* __asan_default_options()
{
    return "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0:"
           "detect_leaks=0:allow_user_segv_handler=1:detect_stack_use_after_return=0";
}
#endif

#if defined(__SANITIZE_THREAD__)
// The same for ThreadSanitizer; and a fork server forks while a task's own threads may exist.
extern "C" const char* __tsan_default_options()
{
    return "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0:report_signal_unsafe=0:die_after_fork=0";
}
#endif

int main(int argc, char** argv)
{
#if defined(SANDHOST_WORKER_USES_POCO)
    sandhost::worker::worker_main(argc, argv, sandhost::plugin::poco_loader());
#else
    sandhost::worker::worker_main(argc, argv, sandhost::plugin::dlopen_loader());
#endif
}
