// The exit codes of a worker that gives up without a word on its channel: it cannot reach the
// host, the host broke the protocol, or it could not set itself up. The worker exits with
// these codes and no others of its own, after a line on its stderr that names the failing call
// and errno (or the reason) (except when its host died: nobody is left to read it). The host turns a code back
// into what it means with describe().
#pragma once

#include <optional>

namespace sandhost::protocol {

enum class WorkerExit : int {
    usage = 111,               // started with arguments it does not understand (not by a host)
    host_died = 112,           // its parent (the host, or the fork server of a forked child) died
    host_gone = 113,           // the channel failed: the hello did not get through, or a read failed
    wait_failed = 114,         // a fork server's wait for the host's messages and its children failed
    broken_frame = 115,        // the host sent a frame or message that does not decode
    unexpected_message = 116,  // the host sent a message the worker's role has no use for
    setup_failed = 117,        // a call that isolates the worker failed (signals, descriptors, group)
    lease_expired = 118,       // its job's lease ran out unrenewed: it stopped itself and its descendants
};

constexpr int exit_code(WorkerExit e) { return static_cast<int>(e); }

// The WorkerExit whose code `code` is, or nullopt for any other exit code (a task that calls
// exit() itself can still exit with one of these: the host can only say what the code means).
constexpr std::optional<WorkerExit> worker_exit_from_code(int code)
{
    if (code < exit_code(WorkerExit::usage) || code > exit_code(WorkerExit::lease_expired)) return std::nullopt;
    return static_cast<WorkerExit>(code);
}

// What the code means, as a clause about the worker: "its host died". Never null.
constexpr const char* describe(WorkerExit e)
{
    switch (e) {
    case WorkerExit::usage: return "it was started with arguments it does not understand";
    case WorkerExit::host_died: return "its host, or the fork server it was forked from, died";
    case WorkerExit::host_gone: return "it lost its channel to the host";
    case WorkerExit::wait_failed: return "the fork server could not wait for the host's messages and its children";
    case WorkerExit::broken_frame: return "the host sent it a message it could not decode";
    case WorkerExit::unexpected_message: return "the host sent it a message it has no use for";
    case WorkerExit::setup_failed: return "it could not set up its own isolation";
    case WorkerExit::lease_expired: return "its job's lease ran out unrenewed, so it stopped itself and everything it started";
    }
    return "an unknown reason";
}

} // namespace sandhost::protocol
