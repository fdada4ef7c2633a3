// The commands that act on a store: enqueue, jobs (and jobs retry|cancel), job, queues, pause,
// resume, wait, purge.
// They work while `sandhost run` serves the same store from another process.
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/host_context.h"
#include "cli/job_format.h"
#include "cli/terminal.h"
#include "model/job_json.h"
#include "model/json_text.h"
#include "model/text.h"
#include "model/units.h"
#include "os/signal_watch.h"
#include "scheduler/bulk_actions.h"
#include "scheduler/enqueue_json.h"
#include "scheduler/enqueue_policy.h"
#include "scheduler/payload.h"

#include <Poco/JSON/Array.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

namespace sandhost::cli {
namespace {

using Clock = std::chrono::system_clock;

model::JobId parse_job_id(const std::string& text)
{
    model::JobId id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id <= 0) throw UsageError("'" + text + "' is not a job id");
    return id;
}

// How `enqueue --wait` and `wait` wait.
struct Following {
    bool json = false;
    std::optional<model::Duration> timeout;  // --wait-timeout: give up after this
    model::Duration stale_after{};           // a host whose heartbeat is older is not alive (host.lease)
};

// Whether a live host (a heartbeat within `stale_after`) serves `job`'s queue and may run its task.
bool served_by_live_host(store::Store& store, const model::Job& job, model::Duration stale_after)
{
    const auto now = Clock::now();
    for (const auto& host : store.hosts()) {
        if (!host.alive(now, stale_after)) continue;
        for (const auto& queue : host.queues) {
            if (queue.name == job.queue && model::task_allowed(queue.tasks, job.task)) return true;
        }
    }
    return false;
}

// Follows a job until it reaches a final state, drawing its progress; exits like `exec`.
// Says on stderr when no live host serves the job's queue (and when one does again), and
// stops after following.timeout. A job that does not exist exits 1, as `job show` does.
int follow_job(store::Store& store, model::JobId id, const Following& following)
{
    ProgressBar bar;
    std::atomic<bool> interrupted{false};
    os::SignalWatch signals({SIGINT, SIGTERM}, [&](int) { interrupted = true; });
    const auto started = std::chrono::steady_clock::now();
    auto next_host_check = started;
    std::optional<bool> served;  // as last said
    for (;;) {
        auto job = store.get(id);
        if (!job) {
            bar.clear();
            std::cerr << "no job " << id << "\n";
            return k_exit_failed;
        }
        if (job->progress) bar.update(job->progress->percent, job->progress->message);
        if (model::is_final(job->state)) {
            bar.clear();
            const auto attempts = store.attempts(id);
            if (following.json) {
                std::cout << model::to_json(*job, &attempts) << std::endl;
            } else {
                std::cout << "job " << id << " " << model::to_string(job->state) << " after " << attempts.size()
                          << (attempts.size() == 1 ? " attempt" : " attempts") << "\n";
                if (!attempts.empty()) std::cout << describe_outcome(attempts.back().outcome);
                else if (job->error) std::cout << "error: " << *job->error << "\n";
            }
            return job->state == model::JobState::completed ? k_exit_ok : k_exit_failed;
        }
        const auto now = std::chrono::steady_clock::now();
        if (interrupted) {
            bar.clear();
            std::cerr << "stopped waiting; job " << id << " is " << model::to_string(job->state) << "\n";
            return k_exit_failed;
        }
        if (following.timeout && now - started >= *following.timeout) {
            bar.clear();
            std::cerr << "stopped waiting after " << model::format_duration(*following.timeout) << " (--wait-timeout); job " << id
                      << " is " << model::to_string(job->state) << "\n";
            return k_exit_failed;
        }
        if (now >= next_host_check && job->state != model::JobState::active) {
            next_host_check = now + std::chrono::seconds(1);
            const bool live = served_by_live_host(store, *job, following.stale_after);
            if (!live && served.value_or(true)) {
                bar.clear();
                std::cerr << "sandhost: no live host serves queue " << model::printable(job->queue) << " with task "
                          << model::printable(job->task) << " (see `sandhost hosts`); job " << id << " is "
                          << model::to_string(job->state) << ", still waiting"
                          << (following.timeout ? "" : " (Ctrl-C stops waiting, or give --wait-timeout DUR)") << "\n";
            } else if (live && served.has_value() && !*served) {
                bar.clear();
                std::cerr << "sandhost: a live host serves queue " << model::printable(job->queue) << " now\n";
            }
            served = live;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// --wait-timeout, --json and the host.lease of the config.
Following following_of(const ParsedArgs& args, const config::Settings& settings)
{
    Following following;
    following.json = args.has("json");
    if (auto v = args.get("wait-timeout")) following.timeout = parse_duration_flag("wait-timeout", *v);
    following.stale_after = settings.host.lease;
    return following;
}

} // namespace

namespace {

// One per line, or {"ids": [...]}.
void print_ids(const std::vector<model::JobId>& ids, bool json)
{
    if (!json) {
        for (const auto id : ids) std::cout << id << "\n";
        return;
    }
    Poco::JSON::Object o;
    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    for (const auto id : ids) list->add(static_cast<Poco::Int64>(id));
    o.set("ids", list);
    print_json(o);
}

// enqueue --payloads and --jobs: a job per non-empty line of `file`, as `job_of` reads the
// line (it throws the reason a line is not a job), stored k_max_enqueue_batch per step. Every
// line is read before any is stored; a line the enqueue policy refuses stores nothing of its
// batch, and the batches before it stay stored (their ids are printed, and the error says so).
int enqueue_lines(const ParsedArgs& args, const std::string& option, const std::string& file,
                  const std::function<scheduler::EnqueueRequest(const std::string&)>& job_of)
{
    const std::string flag = "--" + option;
    std::ifstream opened;
    if (file != "-") {
        opened.open(file, std::ios::binary);
        if (!opened) throw UsageError(flag + ": cannot read " + file);
    }
    std::istream& in = file == "-" ? std::cin : opened;
    std::vector<scheduler::EnqueueRequest> requests;
    std::vector<std::size_t> lines;  // of each request
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        try {
            requests.push_back(job_of(line));
        } catch (const std::exception& e) {
            throw UsageError(flag + ": line " + std::to_string(number) + ": " + e.what() + "; nothing was stored");
        }
        lines.push_back(number);
    }
    if (in.bad()) throw UsageError(flag + ": cannot read " + file);
    auto context = open_host_context(args);
    std::vector<model::JobId> ids;
    std::vector<std::string> notes;  // said once each
    for (std::size_t from = 0; from < requests.size(); from += store::k_max_enqueue_batch) {
        const std::size_t to = std::min(requests.size(), from + store::k_max_enqueue_batch);
        const std::vector<scheduler::EnqueueRequest> batch(requests.begin() + static_cast<std::ptrdiff_t>(from),
                                                           requests.begin() + static_cast<std::ptrdiff_t>(to));
        std::vector<scheduler::Enqueued> enqueued;
        try {
            enqueued = scheduler::enqueue_batch(*context.store, *context.settings, batch, Clock::now());
        } catch (const scheduler::EnqueueError& e) {
            // "job N: why": said by the line it came from.
            std::string why = e.what();
            std::size_t index = 0;
            if (why.rfind("job ", 0) == 0) {
                const auto colon = why.find(": ");
                const auto [end, ec] = std::from_chars(why.data() + 4, why.data() + why.size(), index);
                if (ec == std::errc() && colon != std::string::npos && end == why.data() + colon) why = why.substr(colon + 2);
            }
            const std::string suffix = "; nothing was enqueued";
            if (why.size() >= suffix.size() && why.compare(why.size() - suffix.size(), suffix.size(), suffix) == 0) why.resize(why.size() - suffix.size());
            const std::size_t line_of = lines.at(from + std::min(index, batch.size() - 1));
            const std::string stored = from == 0 ? "; nothing was stored"
                                                 : "; nothing from line " + std::to_string(lines.at(from)) + " on was stored, the jobs of lines " +
                                                       std::to_string(lines.front()) + "-" + std::to_string(lines.at(from - 1)) +
                                                       " were (their ids are printed)";
            print_ids(ids, args.has("json"));
            throw UsageError(flag + ": line " + std::to_string(line_of) + ": " + why + stored);
        }
        for (const auto& e : enqueued) {
            ids.push_back(e.id);
            for (const auto& note : e.notes) {
                if (std::find(notes.begin(), notes.end(), note) != notes.end()) continue;
                notes.push_back(note);
                std::cerr << "sandhost enqueue: note: " << note << "\n";
            }
        }
    }
    print_ids(ids, args.has("json"));
    return k_exit_ok;
}

} // namespace

int enqueue_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {
        config_option(),
        {"payload", "JSON|@FILE", "the task's input (default {})"},
        {"payloads", "FILE", "one job per line of FILE (- for standard input), the line its payload: stored 1,000 jobs per transaction, an id printed per line"},
        {"jobs", "FILE", "instead of QUEUE and PLUGIN.TASK: one job per line of FILE (- for standard input), a JSON object as POST /api/v1/jobs "
                         "takes ({\"queue\", \"task\", \"payload\", ...}): stored as --payloads stores"},
        {"priority", "N", "higher runs first (default 0)"},
        {"delay", "DUR", "not before now + DUR"},
        {"timeout", "DUR", "overrides the queue's timeout for each attempt (more than 0: 0s is refused, there is no unlimited timeout)"},
        {"max-attempts", "N", "overrides the queue's retry.max_attempts"},
        {"depends-on", "ID", "runs after job ID completed, seeing its result (repeatable)", true},
        {"key", "K", "an idempotency key: while a job of QUEUE with key K has not finished, its id is printed and nothing is stored"},
        {"wait", "", "follow the job to its end and exit like exec (0 only when it completed)"},
        {"wait-timeout", "DUR", "with --wait: stop waiting after DUR (exit 1; the job stays)"},
        {"json", "", "print {\"id\": N}; with --wait, the job once it ended, as `job show --json` prints it"},
        {"help", "", "show this help"},
    };
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        return print_help("sandhost enqueue QUEUE PLUGIN.TASK [options]\n       sandhost enqueue --jobs FILE [--json]",
                          "Stores a job and prints its id. Nothing is stored when anything is wrong.\nA job with --depends-on gets its "
                          "dependencies' results in its payload under \"" +
                              std::string(scheduler::k_dependencies_key) + "\".",
                          options);
    }
    if (auto file = args.get("jobs")) {
        if (!args.positional.empty()) throw UsageError("--jobs takes each job's queue and task from its line: no QUEUE or PLUGIN.TASK");
        for (const char* other : {"payload", "payloads", "priority", "delay", "timeout", "max-attempts", "depends-on", "key", "wait", "wait-timeout"}) {
            if (args.has(other)) throw UsageError(std::string("--jobs cannot go with --") + other + " (each line says its own)");
        }
        // A line that is not a job says why: "--jobs: line N: queue is missing".
        return enqueue_lines(args, "jobs", *file, [](const std::string& line) { return scheduler::enqueue_request_from_json(line); });
    }
    if (args.positional.size() != 2) throw UsageError("expected QUEUE and PLUGIN.TASK");
    if (args.has("payloads")) {
        for (const char* other : {"payload", "key", "wait", "wait-timeout"}) {
            if (args.has(other)) throw UsageError(std::string("--payloads cannot go with --") + other);
        }
    }
    scheduler::EnqueueRequest request;
    request.queue = args.positional[0];
    request.task = args.positional[1];
    if (args.has("payload")) request.payload = read_payload(*args.get("payload"));
    if (auto v = args.get("priority")) request.priority = parse_int_flag("priority", *v);
    if (auto v = args.get("delay")) request.delay = parse_duration_flag("delay", *v);
    if (auto v = args.get("timeout")) request.timeout = parse_positive_duration_flag("timeout", *v);
    if (auto v = args.get("max-attempts")) request.max_attempts = static_cast<std::uint32_t>(parse_count_flag("max-attempts", *v, 1));
    for (const auto& dep : args.all("depends-on")) request.depends_on.push_back(parse_job_id(dep));
    if (auto v = args.get("key")) request.key = *v;
    if (auto file = args.get("payloads")) {
        return enqueue_lines(args, "payloads", *file, [&request](const std::string& line) {
            if (const auto error = model::json_syntax_error(line)) throw UsageError("not valid JSON: " + error->to_string());
            scheduler::EnqueueRequest job = request;
            job.payload = line;
            return job;
        });
    }
    auto context = open_host_context(args);
    scheduler::Enqueued enqueued;
    try {
        enqueued = scheduler::enqueue(*context.store, *context.settings, request, Clock::now());
    } catch (const scheduler::EnqueueError& e) {
        throw UsageError(e.what());
    }
    for (const auto& note : enqueued.notes) std::cerr << "sandhost enqueue: note: " << note << "\n";
    const model::JobId id = enqueued.id;
    if (!enqueued.created) {
        std::cerr << "sandhost enqueue: note: job " << id << " has the key " << model::printable(*request.key)
                  << " and has not finished: nothing was stored\n";
    }
    if (args.has("wait")) return follow_job(*context.store, id, following_of(args, *context.settings));
    if (args.has("json")) {
        Poco::JSON::Object o;
        o.set("id", static_cast<Poco::Int64>(id));
        print_json(o);
    } else {
        std::cout << id << "\n";
    }
    return k_exit_ok;
}

// What `sandhost jobs retry|cancel|promote` does: its verb's forms, the states it takes, its help.
struct BulkVerb {
    std::string name;
    std::string done;  // "retried"
    scheduler::BulkAction action;
    std::string states;      // the states it takes, for --state's help and errors; empty: no --state
    std::string since_help;  // --since
    std::string help;
};

const BulkVerb& bulk_verb(const std::string& action)
{
    static const std::vector<BulkVerb> verbs = {
        {"retry", "retried", scheduler::BulkAction::retry, "dead (the default) or cancelled",
         "only jobs that died (or were cancelled) within the last DUR",
         "Runs the dead jobs of a queue again, newest first, each as `sandhost job retry ID` would: with a\n"
         "fresh attempt budget, or blocked again on its dependencies. A job that changed state meanwhile is\n"
         "skipped; one the store refuses (a dead dependency, its key taken by another job) is named with why,\n"
         "and the exit status is then 1."},
        {"cancel", "cancelled", scheduler::BulkAction::cancel,
         "waiting, delayed, blocked (the default: all three) or active, which stops them", "only jobs last changed within the last DUR",
         "Cancels the waiting, delayed and blocked jobs of a queue, state by state and newest first, each as\n"
         "`sandhost job cancel ID` would (their blocked dependents become dead). With --state active, running\n"
         "jobs are stopped too: each ends cancelled once its host stops it. A job that ended meanwhile is skipped."},
        {"promote", "promoted", scheduler::BulkAction::promote, "",
         "only jobs delayed (enqueued with a delay, or put in a retry's backoff) within the last DUR",
         "Lets the delayed jobs of a queue run now, newest first, each as `sandhost job promote ID` would: the\n"
         "rest of their delay or retry backoff is skipped, their attempts so far still count. A job that\n"
         "changed state meanwhile is skipped."},
    };
    for (const auto& verb : verbs) {
        if (verb.name == action) return verb;
    }
    throw std::logic_error("no bulk action '" + action + "'");
}

// `sandhost jobs retry|cancel|promote --queue Q ...`: many jobs of a queue, each as `job
// retry|cancel|promote` would. Exit status 1 when the store refused to retry any of them.
int bulk_command(const std::string& action, const std::vector<std::string>& raw)
{
    const BulkVerb& verb = bulk_verb(action);
    const bool retry = action == "retry";
    std::vector<OptionSpec> options = {config_option(), {"queue", "Q", "the queue whose jobs to " + action + " (required)"}};
    if (!verb.states.empty()) options.push_back({"state", "S", "only jobs in this state: " + verb.states + " (repeatable)", true});
    for (OptionSpec option : std::vector<OptionSpec>{
             {"task", "PLUGIN.TASK", "only jobs of this task"},
             {"since", "DUR", verb.since_help},
             {"limit", "N", "at most N jobs, newest first (default: every one)"},
             {"dry-run", "", "count the jobs, change nothing"},
             {"json", "", "print what was done as JSON"},
             {"help", "", "show this help"},
         }) {
        options.push_back(std::move(option));
    }
    const std::string usage = "sandhost jobs " + action + " --queue Q" + (verb.states.empty() ? "" : " [--state S]...") +
                              " [--task PLUGIN.TASK] [--since DUR] [--limit N] [--dry-run] [--json]";
    const auto args = parse_args(raw, options);
    if (args.has("help")) return print_help(usage, verb.help, options);
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    const auto queue = args.get("queue");
    if (!queue) throw UsageError("--queue is required: which queue's jobs to " + action);
    scheduler::BulkSelection selection;
    selection.queue = *queue;
    for (const auto& text : args.all("state")) {
        const auto state = model::job_state_from_string(text);
        if (!state || !scheduler::takes(verb.action, *state)) throw UsageError("--state: expected " + verb.states + ", got '" + text + "'");
        if (std::find(selection.states.begin(), selection.states.end(), *state) == selection.states.end()) selection.states.push_back(*state);
    }
    if (selection.states.empty()) selection.states = scheduler::default_states(verb.action);
    if (auto task = args.get("task")) selection.task = *task;
    if (auto since = args.get("since")) selection.changed_since = Clock::now() - parse_duration_flag("since", *since);
    if (auto limit = args.get("limit")) selection.limit = parse_count_flag("limit", *limit, 1);
    selection.dry_run = args.has("dry-run");
    auto context = open_host_context(args);
    if (auto unknown = scheduler::unknown_queue(*context.store, *context.settings, selection.queue)) throw UsageError(*unknown);
    const auto outcome = scheduler::act_on_jobs(verb.action, *context.store, selection, Clock::now());
    std::string states;
    for (model::JobState state : selection.states) states += (states.empty() ? "" : ", ") + std::string(model::to_string(state));
    if (args.has("json")) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("queue", selection.queue);
        Poco::JSON::Array list;
        for (model::JobState state : selection.states) list.add(std::string(model::to_string(state)));
        o.set("states", list);
        o.set("dry_run", selection.dry_run);
        o.set(verb.done, static_cast<Poco::UInt64>(outcome.changed));
        if (action == "cancel") o.set("requested", static_cast<Poco::UInt64>(outcome.requested));
        o.set("skipped", static_cast<Poco::UInt64>(outcome.skipped));
        if (retry) {
            Poco::JSON::Array refused;
            for (const auto& [id, why] : outcome.refused) {
                Poco::JSON::Object r(Poco::JSON_PRESERVE_KEY_ORDER);
                r.set("id", static_cast<Poco::Int64>(id));
                r.set("error", why);
                refused.add(r);
            }
            o.set("refused", refused);
            o.set("refused_count", static_cast<Poco::UInt64>(outcome.refused_count));
        }
        o.set("more", outcome.more);
        print_json(o);
    } else {
        const auto jobs = [](std::size_t n) { return std::to_string(n) + " job" + (n == 1 ? "" : "s"); };
        std::cout << (selection.dry_run ? "would have " + verb.done : verb.done) << " " << jobs(outcome.changed) << " of queue " << selection.queue
                  << " (" << states << (selection.task ? ", task " + *selection.task : "")
                  << (args.get("since") ? ", changed within " + *args.get("since") : "") << ")";
        if (outcome.requested) std::cout << "; " << (selection.dry_run ? "would ask " : "asked ") << jobs(outcome.requested) << " running to stop";
        if (outcome.skipped) std::cout << "; skipped " << jobs(outcome.skipped) << " that changed meanwhile";
        std::cout << (selection.dry_run ? "; nothing was changed" : "") << "\n";
        if (outcome.more) std::cout << "stopped at --limit " << selection.limit << ": more jobs match\n";
        for (const auto& [id, why] : outcome.refused) std::cerr << "job " << id << " not retried: " << why << "\n";
        if (outcome.refused_count > outcome.refused.size()) {
            std::cerr << "and " << outcome.refused_count - outcome.refused.size() << " more jobs not retried\n";
        }
    }
    return outcome.refused_count ? k_exit_failed : k_exit_ok;
}

int jobs_command(const std::vector<std::string>& raw)
{
    if (!raw.empty() && (raw[0] == "retry" || raw[0] == "cancel" || raw[0] == "promote")) return bulk_command(raw[0], {raw.begin() + 1, raw.end()});
    const std::vector<OptionSpec> options = {
        config_option(),
        {"queue", "Q", "only this queue"},
        {"state", "S", "only this state (waiting, delayed, blocked, active, completed, dead, cancelled)"},
        {"limit", "N", "at most N, newest first (default 100)"},
        {"json", "", "print a JSON array"},
        {"help", "", "show this help"},
    };
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        return print_help("sandhost jobs [--queue Q] [--state S] [--limit N] [--json]\n       sandhost jobs retry|cancel|promote --queue Q [options]",
                          "Lists jobs, newest first. `jobs retry`, `jobs cancel` and `jobs promote` act on many jobs of a queue\n"
                          "at once (`sandhost jobs retry --help`).",
                          options);
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    auto context = open_host_context(args);
    store::JobFilter filter;
    if (auto q = args.get("queue")) filter.queue = *q;
    if (auto s = args.get("state")) {
        filter.state = model::job_state_from_string(*s);
        if (!filter.state) throw UsageError("--state: unknown state '" + *s + "' (waiting, delayed, blocked, active, completed, dead, cancelled)");
    }
    if (auto l = args.get("limit")) filter.limit = parse_count_flag("limit", *l, 1);
    const auto list = context.store->list(filter);
    if (args.has("json")) {
        std::string array = "[";
        for (const auto& job : list) array += (array.size() > 1 ? "," : "") + model::to_json(job, nullptr);
        std::cout << array << "]" << std::endl;
    } else {
        std::cout << jobs_table(list);
    }
    return k_exit_ok;
}

int job_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {config_option(), {"json", "", "print JSON"}, {"help", "", "show this help"}};
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        return print_help("sandhost job show|cancel|retry|promote|delete ID [--json]",
                          "show: the job and every attempt. cancel: a waiting job is cancelled, a running one stopped.\nretry: a dead or "
                          "cancelled job runs again. promote: a delayed job (a delay, a retry's backoff) may run now.\ndelete: a "
                          "completed, dead or cancelled job is deleted with its attempts (payload, result, output),\nunless a job still "
                          "to run depends on it.",
                          options);
    }
    if (args.positional.size() != 2) throw UsageError("expected show|cancel|retry|promote|delete and a job id");
    const std::string& action = args.positional[0];
    if (action != "show" && action != "cancel" && action != "retry" && action != "promote" && action != "delete") {
        throw UsageError("unknown action '" + action + "' (show, cancel, retry, promote, delete)");
    }
    const model::JobId id = parse_job_id(args.positional[1]);
    auto context = open_host_context(args);
    auto& store = *context.store;
    if (action == "show") {
        auto found = store.get(id);
        if (!found) {
            std::cerr << "no job " << id << "\n";
            return k_exit_failed;
        }
        const auto attempts = store.attempts(id);
        if (args.has("json")) std::cout << model::to_json(*found, &attempts) << std::endl;
        else std::cout << job_details(*found, attempts);
        return k_exit_ok;
    }
    // cancel, retry and promote report what happened: text, or {"id", "state", "result"} with --json.
    auto report = [&](const char* result, const std::string& text, int status) {
        const auto now = store.get(id);
        if (args.has("json")) {
            Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
            o.set("id", static_cast<Poco::Int64>(id));
            o.set("state", now ? model::to_string(now->state) : "missing");
            o.set("result", result);
            print_json(o);
        } else {
            (status == k_exit_ok ? std::cout : std::cerr) << text << "\n";
        }
        return status;
    };
    if (action == "cancel") {
        switch (store.cancel(id, Clock::now())) {
        case store::CancelResult::cancelled: return report("cancelled", "job " + std::to_string(id) + " cancelled", k_exit_ok);
        case store::CancelResult::requested:
            return report("requested", "job " + std::to_string(id) + " is running: its worker is being stopped", k_exit_ok);
        case store::CancelResult::already_final:
            return report("already_final", "job " + std::to_string(id) + " has already ended (" + model::to_string(store.get(id)->state) + ")",
                          k_exit_failed);
        case store::CancelResult::not_found: return report("not_found", "no job " + std::to_string(id), k_exit_failed);
        }
    }
    if (action == "delete") {
        const auto before = store.get(id);
        switch (store.remove(id)) {
        case store::RemoveResult::removed: return report("deleted", "job " + std::to_string(id) + " deleted", k_exit_ok);
        case store::RemoveResult::not_found: return report("not_found", "no job " + std::to_string(id), k_exit_failed);
        case store::RemoveResult::needed:
            return report("refused", "job " + std::to_string(id) + " is kept: a job still to run depends on it (its state and result)",
                          k_exit_failed);
        case store::RemoveResult::not_finished:
            return report("refused",
                          "job " + std::to_string(id) + " is " + (before ? model::to_string(before->state) : "unfinished") +
                              "; only completed, dead or cancelled jobs are deleted (cancel it first)",
                          k_exit_failed);
        }
    }
    if (action == "promote") {
        try {
            if (store.promote(id, Clock::now())) return report("promoted", "job " + std::to_string(id) + " may run now", k_exit_ok);
        } catch (const store::StoreRequestError&) {
            return report("not_found", "no job " + std::to_string(id), k_exit_failed);
        }
        const auto now = store.get(id);
        return report("refused",
                      "job " + std::to_string(id) + " is " + (now ? model::to_string(now->state) : "purged") + "; only delayed jobs can be promoted",
                      k_exit_failed);
    }
    try {
        if (store.retry(id, Clock::now())) return report("retried", "job " + std::to_string(id) + " will run again", k_exit_ok);
    } catch (const store::StoreRequestError& e) {
        return report("refused", e.what(), k_exit_failed);
    }
    const auto job = store.get(id);
    if (!job) return report("not_found", "no job " + std::to_string(id), k_exit_failed);
    return report("refused",
                  "job " + std::to_string(id) + " is " + model::to_string(job->state) + "; only dead or cancelled jobs can be retried",
                  k_exit_failed);
}

int queues_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {config_option(), {"json", "", "print JSON"}, {"help", "", "show this help"}};
    const auto args = parse_args(raw, options);
    if (args.has("help")) return print_help("sandhost queues [--json]",
                          "Counts jobs per state for every queue, whether it is paused, its latency (how long the job that may\n"
                          "run and has waited longest has waited) and how many finished jobs it keeps (retention).",
                          options);
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    auto context = open_host_context(args);
    std::vector<std::string> names;
    std::map<std::string, model::Retention> retention;
    for (const auto& q : context.settings->queues) {
        names.push_back(q.name);
        retention.emplace(q.name, q.retention);
    }
    const auto counts = context.store->queue_counts(names);
    const auto now = Clock::now();
    if (args.has("json")) print_json(queues_to_json(counts, now, retention));
    else std::cout << queues_table(counts, now, retention);
    return k_exit_ok;
}

static int set_paused(const std::vector<std::string>& raw, bool paused)
{
    const std::vector<OptionSpec> options = {config_option(), {"json", "", "print {\"queue\", \"paused\"}"}, {"help", "", "show this help"}};
    const auto args = parse_args(raw, options);
    const std::string verb = paused ? "pause" : "resume";
    if (args.has("help")) {
        return print_help("sandhost " + verb + " QUEUE",
                          paused ? "Stops claiming jobs of QUEUE on every host; running jobs finish." : "Claims jobs of QUEUE again.", options);
    }
    if (args.positional.size() != 1) throw UsageError("expected one QUEUE");
    auto context = open_host_context(args);
    const auto& queue = require_queue(*context.settings, args.positional[0]);
    context.store->set_paused(queue.name, paused);
    if (args.has("json")) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("queue", queue.name);
        o.set("paused", paused);
        print_json(o);
    } else {
        std::cout << "queue " << queue.name << (paused ? " paused\n" : " resumed\n");
    }
    return k_exit_ok;
}

int wait_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {config_option(),
                                             {"wait-timeout", "DUR", "stop waiting after DUR (exit 1; the job stays)"},
                                             {"json", "", "print the job at the end as `job show --json` does"},
                                             {"help", "", "show this help"}};
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        return print_help("sandhost wait ID [--wait-timeout DUR] [--json]",
                          "Follows a job to its end with a progress bar, saying when no live host serves its queue.\n"
                          "Exit status 0 only when it completed; 1 when it ended otherwise, when there is no such job, or when\n"
                          "waiting stopped; 2 for bad arguments.",
                          options);
    }
    if (args.positional.size() != 1) throw UsageError("expected one job id");
    const model::JobId id = parse_job_id(args.positional[0]);
    auto context = open_host_context(args);
    return follow_job(*context.store, id, following_of(args, *context.settings));
}

int purge_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {
        config_option(),
        {"state", "S", "dead, completed or cancelled (required)"},
        {"older-than", "DUR", "only jobs last updated longer ago than DUR (default: all)"},
        {"json", "", "print {\"purged\": N}"},
        {"help", "", "show this help"},
    };
    const auto args = parse_args(raw, options);
    if (args.has("help")) return print_help("sandhost purge --state dead|completed|cancelled [--older-than DUR]", "Deletes ended jobs and their attempts.", options);
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    auto state_text = args.get("state");
    if (!state_text) throw UsageError("--state is required (dead, completed or cancelled)");
    auto state = model::job_state_from_string(*state_text);
    if (!state || !model::is_final(*state)) throw UsageError("--state: expected dead, completed or cancelled, got '" + *state_text + "'");
    model::Duration older_than{0};
    if (auto v = args.get("older-than")) older_than = parse_duration_flag("older-than", *v);
    auto context = open_host_context(args);
    const auto purged = context.store->purge(*state, Clock::now() - older_than);
    if (args.has("json")) {
        Poco::JSON::Object o;
        o.set("purged", static_cast<Poco::UInt64>(purged));
        print_json(o);
    } else {
        std::cout << "purged " << purged << " " << *state_text << " job" << (purged == 1 ? "" : "s") << "\n";
    }
    return k_exit_ok;
}

int pause_command(const std::vector<std::string>& args) { return set_paused(args, true); }
int resume_command(const std::vector<std::string>& args) { return set_paused(args, false); }

} // namespace sandhost::cli
