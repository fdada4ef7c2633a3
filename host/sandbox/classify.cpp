#include "sandbox/classify.h"

#include "os/signals.h"
#include "protocol/worker_exit.h"

#include <algorithm>
#include <csignal>

namespace sandhost::sandbox {
namespace {

using process::ExitStatus;

// Whether a worker that died without reporting probably ran into its memory limit. The limit
// is on address space (RLIMIT_AS) while the kernel tells us the peak resident size; the part
// of the address space that was never resident is what the worker had mapped but not touched
// when it became ready (libraries, reservations). A malloc that fails near the limit usually
// ends in abort(), a SIGSEGV or an error exit: all of them count when the peak was that high.
bool near_memory_limit(const AttemptFacts& facts)
{
    if (!facts.limits.memory_bytes || !facts.termination) return false;
    // The group counts its OOM kills: no guessing from the peak.
    if (facts.group && facts.group->memory_enforced) return false;
    const std::uint64_t limit = *facts.limits.memory_bytes;
    std::uint64_t untouched_kb = 0;
    // Only meaningful when the address space was really capped: a worker mapping more than
    // the limit when ready (an AddressSanitizer build, whose limit is watched on RSS) was not.
    if (facts.baseline && facts.baseline->vm_size_kb > facts.baseline->rss_kb && facts.baseline->vm_size_kb * 1024 <= limit) {
        untouched_kb = facts.baseline->vm_size_kb - facts.baseline->rss_kb;
    }
    const std::uint64_t estimate = (facts.termination->usage.max_rss_kb + untouched_kb) * 1024;
    const std::uint64_t slack = std::max<std::uint64_t>(8ull << 20, limit / 8);
    return estimate + slack >= limit;
}

// " (its host ... died)" for an exit code of the worker's own, which says what it means; empty
// for any other status.
std::string meaning_of(const ExitStatus& status)
{
    if (status.kind != ExitStatus::Kind::exited) return {};
    const auto worker_exit = protocol::worker_exit_from_code(status.exit_code);
    return worker_exit ? std::string(" (") + protocol::describe(*worker_exit) + ")" : std::string();
}

model::Outcome from_stop(const AttemptFacts& facts, const StopReason& stop)
{
    model::Outcome o;
    o.killed = facts.killed;
    o.error = stop.message;
    switch (stop.kind) {
    case StopReason::Kind::startup_timeout:
    case StopReason::Kind::timeout:
    case StopReason::Kind::shutdown:
        o.kind = model::OutcomeKind::timed_out;
        break;
    case StopReason::Kind::cancel:
    case StopReason::Kind::cancel_now:
        o.kind = model::OutcomeKind::cancelled;
        break;
    case StopReason::Kind::limit:
        o.kind = model::OutcomeKind::resource_limit;
        o.limit = stop.limit;
        break;
    case StopReason::Kind::protocol_error:
        o.kind = model::OutcomeKind::protocol_error;
        break;
    case StopReason::Kind::result_too_large:
        o.kind = model::OutcomeKind::result_too_large;
        break;
    }
    if (facts.termination && facts.termination->status.kind == ExitStatus::Kind::signalled) {
        o.signal_number = facts.termination->status.signal_number;
    }
    return o;
}

model::Outcome from_done(const protocol::Done& done)
{
    model::Outcome o;
    switch (done.status) {
    case protocol::Done::Status::ok:
        o.kind = model::OutcomeKind::succeeded;
        o.result = done.data;
        break;
    case protocol::Done::Status::error:
        o.kind = model::OutcomeKind::failed;
        o.error = done.data;
        o.permanent = done.permanent;
        break;
    case protocol::Done::Status::result_too_large:
        o.kind = model::OutcomeKind::result_too_large;
        o.error = "the task's result of " + std::to_string(done.result_size) + " bytes exceeds max_result";
        break;
    case protocol::Done::Status::out_of_memory:
        // The task said so itself (the out_of_memory service): no need to guess from the peak.
        o.kind = model::OutcomeKind::resource_limit;
        o.limit = model::LimitKind::memory;
        o.error = "the task ran out of memory";
        if (done.result_size > 0) o.error += " allocating " + std::to_string(done.result_size) + " bytes";
        if (!done.data.empty()) o.error += ": " + done.data;
        break;
    }
    return o;
}

model::Outcome from_termination(const AttemptFacts& facts)
{
    model::Outcome o;
    const ExitStatus& status = facts.termination->status;
    if (status.kind == ExitStatus::Kind::signalled) {
        const int sig = status.signal_number;
        o.signal_number = sig;
        o.core_dumped = status.core_dumped;
        const auto cpu = facts.termination->usage.cpu();
        if (sig == SIGXCPU || (sig == SIGKILL && facts.limits.cpu && cpu >= *facts.limits.cpu)) {
            o.kind = model::OutcomeKind::resource_limit;
            o.limit = model::LimitKind::cpu;
            o.error = "CPU time limit reached (" + std::to_string(cpu.count()) + " ms used)";
        } else if (sig == SIGXFSZ) {
            o.kind = model::OutcomeKind::resource_limit;
            o.limit = model::LimitKind::file_size;
            o.error = "file size limit reached";
        } else if (near_memory_limit(facts)) {
            o.kind = model::OutcomeKind::resource_limit;
            o.limit = model::LimitKind::memory;
            o.error = "memory limit reached (peak RSS " + std::to_string(facts.termination->usage.max_rss_kb) + " KiB); the worker died by " +
                      os::signal_name(sig);
        } else {
            o.kind = model::OutcomeKind::crashed;
            o.error = "worker died by " + os::signal_name(sig) + (status.core_dumped ? " (core dumped)" : "");
        }
        return o;
    }
    if (status.exit_code != 0 && near_memory_limit(facts)) {
        o.kind = model::OutcomeKind::resource_limit;
        o.limit = model::LimitKind::memory;
        o.exit_code = status.exit_code;
        o.error = "memory limit reached (peak RSS " + std::to_string(facts.termination->usage.max_rss_kb) + " KiB); the worker exited with code " +
                  std::to_string(status.exit_code);
        return o;
    }
    o.kind = model::OutcomeKind::exited;
    o.exit_code = status.exit_code;
    o.error = "worker exited with code " + std::to_string(status.exit_code) + meaning_of(status) + " without reporting a result";
    return o;
}

// The plugin's own code killed the worker while it was being loaded.
model::Outcome died_loading(const process::Termination& termination)
{
    model::Outcome o;
    o.kind = model::OutcomeKind::load_failed;
    o.plugin_unusable = true;
    const ExitStatus& status = termination.status;
    if (status.kind == ExitStatus::Kind::signalled) {
        o.signal_number = status.signal_number;
        o.core_dumped = status.core_dumped;
        o.error = "the worker died by " + os::signal_name(status.signal_number) + (status.core_dumped ? " (core dumped)" : "") +
                  " while loading the plugin (in its library's constructors or its init hook)";
    } else {
        o.exit_code = status.exit_code;
        o.error = "the worker exited with code " + std::to_string(status.exit_code) + meaning_of(status) +
                  " while loading the plugin (in its library's constructors or its init hook)";
    }
    return o;
}

std::string count_of(std::uint64_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

// What the group's counters say about an attempt that did not succeed: the kernel killed in it
// at the memory limit, or refused it a fork at the process limit.
void judge_by_group(const AttemptFacts& facts, model::Outcome& o)
{
    if (!facts.group) return;
    const auto kind = o.kind;
    if (kind != model::OutcomeKind::failed && kind != model::OutcomeKind::crashed && kind != model::OutcomeKind::exited) return;
    const GroupFacts& g = *facts.group;
    const std::string before = o.error.empty() ? std::string() : " (" + o.error + ")";
    if (g.oom_kills > 0) {
        o.kind = model::OutcomeKind::resource_limit;
        o.limit = model::LimitKind::memory;
        o.permanent = false;
        o.error = "memory limit" + (facts.limits.memory_bytes ? " of " + model::format_size(*facts.limits.memory_bytes) : std::string()) +
                  " reached: the kernel killed " + count_of(g.oom_kills, "process", "processes") + " in the attempt's control group" + before;
    } else if (g.forks_refused > 0 && g.processes_enforced) {
        o.kind = model::OutcomeKind::resource_limit;
        o.limit = model::LimitKind::processes;
        o.permanent = false;
        o.error = "process limit" + (facts.limits.processes ? " of " + std::to_string(*facts.limits.processes) : std::string()) +
                  " reached: the kernel refused " + count_of(g.forks_refused, "fork", "forks") + " in the attempt's control group" + before;
    }
}

model::Outcome classify_facts(const AttemptFacts& facts);

} // namespace

bool lease_ran_out(const model::Outcome& outcome) { return outcome.kind == model::OutcomeKind::worker_lost && outcome.lease_ran_out; }

model::Outcome classify(const AttemptFacts& facts)
{
    model::Outcome o = classify_facts(facts);
    judge_by_group(facts, o);
    return o;
}

namespace {

model::Outcome classify_facts(const AttemptFacts& facts)
{
    if (facts.stop) return from_stop(facts, *facts.stop);
    if (facts.done) {
        model::Outcome o = from_done(*facts.done);
        o.killed = facts.killed;
        return o;
    }
    if (facts.load_failed) {
        model::Outcome o;
        o.kind = model::OutcomeKind::load_failed;
        o.error = *facts.load_failed;
        o.plugin_unusable = !facts.task_missing;
        return o;
    }
    if (facts.reaper_lost) {
        model::Outcome o;
        o.kind = model::OutcomeKind::worker_lost;
        o.error = "the fork server running this worker died";
        return o;
    }
    if (!facts.hello_seen) {
        model::Outcome o;
        o.kind = model::OutcomeKind::spawn_failed;
        if (!facts.termination) {
            o.error = "the worker did not start";
        } else if (facts.termination->status.kind == ExitStatus::Kind::exited && facts.termination->status.exit_code == 72) {
            // Poco::Process reports a failed exec as the child's exit code 72.
            o.error = "cannot execute " + facts.worker_executable + " (exit code 72 before the worker's first message)";
        } else {
            o.error = "worker " + facts.worker_executable + " ended with " + facts.termination->status.describe() + meaning_of(facts.termination->status) +
                      " before its first message";
        }
        if (!facts.stderr_tail.empty()) o.error += ": " + facts.stderr_tail.substr(0, 2000);
        return o;
    }
    if (facts.loading && facts.termination) return died_loading(*facts.termination);
    if (facts.termination) {
        const auto& status = facts.termination->status;
        constexpr const char* k_why_lease = "the attempt's lease ran out without a renewal from its host (the host was stopped, stalled or cut "
                                            "off from the store; another host may run the job)";
        if (status.kind == ExitStatus::Kind::exited && status.exit_code == protocol::exit_code(protocol::WorkerExit::lease_expired)) {
            model::Outcome o;
            o.kind = model::OutcomeKind::worker_lost;
            o.exit_code = status.exit_code;
            o.lease_ran_out = true;
            o.error = std::string("the worker stopped itself and everything it started: ") + k_why_lease;
            return o;
        }
        if (facts.lease_overdue_ms) {
            model::Outcome o;
            o.kind = model::OutcomeKind::worker_lost;
            if (status.kind == ExitStatus::Kind::signalled) o.signal_number = status.signal_number;
            else o.exit_code = status.exit_code;
            o.lease_ran_out = true;
            o.error = "the fork server stopped the worker and everything it started " + std::to_string(*facts.lease_overdue_ms) +
                      " ms after " + k_why_lease;
            return o;
        }
        if (!facts.done && status.kind == ExitStatus::Kind::exited && status.exit_code == protocol::exit_code(protocol::WorkerExit::setup_failed)) {
            // After its hello, a worker sets up each job too (its folders): what failed there
            // kept the task from starting.
            model::Outcome o;
            o.kind = model::OutcomeKind::spawn_failed;
            o.exit_code = status.exit_code;
            o.error = "the worker could not set up the job";
            if (!facts.stderr_tail.empty()) o.error += ": " + facts.stderr_tail.substr(0, 2000);
            return o;
        }
        return from_termination(facts);
    }
    model::Outcome o;
    o.kind = model::OutcomeKind::protocol_error;
    o.error = "the worker stopped answering";
    return o;
}

} // namespace

} // namespace sandhost::sandbox
