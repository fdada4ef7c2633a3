// How the worker reports what it cannot send to the host: one line on stderr, then an exit
// with the protocol::WorkerExit the host decodes. Every function here is async-signal-safe
// (write(2) and _exit(2) only, no stdio, no allocation), so a signal handler or a child forked
// from a threaded fork server may call it.
#pragma once

#include "protocol/worker_exit.h"

namespace sandhost::worker {

// Writes "sandhost-worker: CALL(OBJECT): DESCRIPTION OF ERRNO\n" to stderr in one write
// (OBJECT and its parentheses left out when null or empty; the errno part when error is 0).
// Lines longer than 512 bytes are cut.
void report_failure(const char* call, const char* object, int error) noexcept;

// Writes "sandhost-worker: MESSAGE\n" to stderr in one write.
void report(const char* message) noexcept;

// report_failure(), then _exit(code). Buffered stdio is not flushed.
[[noreturn]] void fail(protocol::WorkerExit code, const char* call, const char* object, int error) noexcept;

// report(), then _exit(code).
[[noreturn]] void fail(protocol::WorkerExit code, const char* message) noexcept;

// _exit(code), without a word: for a host that died, which nobody is left to read about.
[[noreturn]] void exit_with(protocol::WorkerExit code) noexcept;

} // namespace sandhost::worker
