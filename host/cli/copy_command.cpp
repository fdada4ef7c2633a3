// `sandhost copy`: every job of the configured store, into another store, for a deployment that
// moves from the embedded store to a Redis server (or back).
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/host_context.h"
#include "cli/job_format.h"
#include "cli/terminal.h"
#include "config/store_url.h"
#include "model/text.h"
#include "scheduler/store_factory.h"
#include "store/store.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <filesystem>
#include <iostream>

namespace sandhost::cli {
namespace {

constexpr const char* k_help =
    "Copies every job of the configured store, with its attempts, into STORE (sqlite:PATH,\n"
    "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH[?db=N]), with the queues paused\n"
    "there and the last fire of each configured schedule: a deployment moves from the embedded\n"
    "store to a Redis server, or back, without losing a job or its history. Jobs keep their ids,\n"
    "states, times, payloads, results, keys and dependencies; new jobs are numbered above them.\n"
    "The event feed is not copied: STORE's goes on above its last event (store.copied), so a\n"
    "reader that resumes by event id misses nothing. STORE must hold no job (a new sqlite file\n"
    "is made); the configured store is only read. Stop every host and producer first: a host\n"
    "that is alive is refused, and a job enqueued while it copies is not copied (it says so,\n"
    "exit 1). A copy that stopped part way (STORE full or gone, a job started) goes on with\n"
    "--resume: the jobs STORE holds must each be the same as in the configured store (nothing\n"
    "ran there since), and are left as they are.\n"
    "Then point host.store at STORE.\n\n";

// The store `text` names, under `prefix` when it is a Redis server; the configured store's own
// settings otherwise (page size, sync).
config::HostSettings target_settings(const config::HostSettings& source, const std::string& text, const std::optional<std::string>& prefix)
{
    auto parsed = config::parse_store_url(text, std::filesystem::current_path());
    if (!parsed) throw UsageError("--to: " + parsed.error());
    config::HostSettings target = source;
    target.store = parsed.value();
    if (prefix) {
        if (!std::holds_alternative<config::RedisStore>(target.store)) throw UsageError("--to-prefix is for a Redis server, not " + config::to_string(target.store));
        if (prefix->empty()) throw UsageError("--to-prefix: expected a key prefix, got nothing");
        target.store_prefix = *prefix;
    }
    return target;
}

std::string describe(const config::HostSettings& host)
{
    std::string out = config::to_string(host.store);
    if (std::holds_alternative<config::RedisStore>(host.store)) out += " (prefix " + host.store_prefix + ")";
    return out;
}

bool same_store(const config::HostSettings& a, const config::HostSettings& b)
{
    if (const auto* file = std::get_if<config::SqliteStore>(&a.store)) {
        const auto* other = std::get_if<config::SqliteStore>(&b.store);
        if (!other) return false;
        std::error_code ec;
        return file->path == other->path || std::filesystem::equivalent(file->path, other->path, ec);
    }
    return a.store == b.store && a.store_prefix == b.store_prefix;
}

// Refuses while a host serves the store: it would start jobs behind the copy's back.
void refuse_live_hosts(store::Store& source, const config::HostSettings& host)
{
    const auto now = std::chrono::system_clock::now();
    std::string alive;
    for (const auto& record : source.hosts()) {
        if (!record.stopped_at && record.alive(now, host.lease)) alive += (alive.empty() ? "" : ", ") + model::printable(record.name);
    }
    if (!alive.empty()) {
        throw std::runtime_error("a host serves " + describe(host) + " (" + alive + "): stop every host first (`sandhost hosts` lists them)");
    }
}

std::string joined(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ", ") + model::printable(name);
    return out;
}

// How many jobs of `source` are newer than `newest` (enqueued after the copy began), read newest
// first and no further.
std::uint64_t jobs_after(store::Store& source, model::JobId newest)
{
    std::uint64_t count = 0;
    store::JobFilter page;
    page.limit = store::k_max_import_batch;
    for (;;) {
        const auto jobs = source.list(page);
        for (const auto& job : jobs) {
            if (job.id <= newest) return count;
            ++count;
        }
        if (jobs.size() < page.limit) return count;
        page.before = jobs.back().id;
    }
}

} // namespace

int copy_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {
        config_option(),
        {"to", "STORE", "the store to copy into (required): sqlite:PATH, redis://... or unix://..."},
        {"to-prefix", "PREFIX", "the key prefix on a Redis STORE (default: the configured host.store_prefix)"},
        {"resume", "", "go on with a copy into STORE that stopped part way"},
        {"json", "", "print what was copied as JSON"},
        {"help", "", "show this help"},
    };
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        std::cout << "usage: sandhost copy --to STORE [--to-prefix PREFIX] [--resume] [--json]\n\n" << k_help << describe_options(options);
        return k_exit_ok;
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    const auto to = args.get("to");
    if (!to) throw UsageError("--to STORE is required: the store to copy into");
    const auto settings = load_settings(args, false);
    const config::HostSettings target = target_settings(settings->host, *to, args.get("to-prefix"));
    if (same_store(settings->host, target)) throw UsageError("--to names the configured store itself: " + describe(target));

    // Opening a file that is not there would make an empty store of it: nothing to copy.
    if (const auto* file = std::get_if<config::SqliteStore>(&settings->host.store); file && !std::filesystem::exists(file->path)) {
        throw std::runtime_error("there is no store at " + file->path.string() + ": nothing to copy (is --config the deployment's?)");
    }
    auto source = scheduler::open_configured_store(settings->host);
    refuse_live_hosts(*source, settings->host);
    // A new file for a sqlite STORE (its folder made as a host makes it).
    const auto* new_file = std::get_if<config::SqliteStore>(&target.store);
    if (new_file && std::filesystem::exists(new_file->path)) new_file = nullptr;
    auto destination = scheduler::open_configured_store(target, scheduler::StoreUser::host);
    std::vector<std::string> schedules;
    for (const auto& schedule : settings->schedules) schedules.push_back(schedule.name);

    std::uint64_t total = 0;
    for (const auto& [queue, counts] : source->queue_counts({})) {
        for (const auto& [state, count] : counts.by_state) total += count;
    }
    ProgressBar bar;
    std::uint64_t copied_so_far = 0;
    std::uint64_t held_before = 0;  // jobs of an earlier copy found in STORE (--resume)
    store::CopyReport report;
    try {
        const auto start = args.has("resume") ? store::CopyStart::resume : store::CopyStart::into_empty;
        report = store::copy_store(
            *source, *destination, describe(settings->host), schedules, std::chrono::system_clock::now(),
            [&](const store::CopyReport& r) {
                copied_so_far = r.jobs;
                held_before = r.already;
                const auto there = r.jobs + r.already;
                bar.update(total ? 100.0 * static_cast<double>(there) / static_cast<double>(total) : 100.0, std::to_string(r.jobs) + " jobs copied");
            },
            start);
    } catch (const std::exception& e) {
        bar.clear();
        if (copied_so_far == 0) {
            // Refused before anything was written: a file made for the copy goes again.
            if (new_file) {
                destination.reset();
                for (const char* suffix : {"", "-wal", "-shm"}) {
                    std::error_code ignored;
                    std::filesystem::remove(new_file->path.string() + suffix, ignored);
                }
            }
            throw;
        }
        // Stopped part way (a store failed, or a job started): what is there is a part.
        throw std::runtime_error(std::string(e.what()) + "; " + describe(target) + " holds the " + std::to_string(copied_so_far + held_before) +
                                 " jobs copied before that, a part of the store: run the same command with --resume to copy the rest " +
                                 "once the cause is mended (nothing may run on either store meanwhile)");
    }
    bar.clear();
    // Jobs enqueued since the walk began are above its first page: not copied.
    const std::uint64_t missed = jobs_after(*source, report.newest);
    if (args.has("json")) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("from", describe(settings->host));
        o.set("to", describe(target));
        o.set("jobs", static_cast<Poco::UInt64>(report.jobs));
        o.set("attempts", static_cast<Poco::UInt64>(report.attempts));
        o.set("already_there", static_cast<Poco::UInt64>(report.already));
        Poco::JSON::Array paused, fired;
        for (const auto& q : report.paused) paused.add(q);
        for (const auto& s : report.schedules) fired.add(s);
        o.set("paused", paused);
        o.set("schedules", fired);
        o.set("event", static_cast<Poco::Int64>(report.event));
        o.set("not_copied", static_cast<Poco::UInt64>(missed));
        print_json(o);
    } else {
        std::cout << "copied " << report.jobs << " job" << (report.jobs == 1 ? "" : "s") << " and " << report.attempts << " attempt"
                  << (report.attempts == 1 ? "" : "s") << " from " << describe(settings->host) << " into " << describe(target) << "\n";
        if (report.already > 0) {
            std::cout << report.already << " job" << (report.already == 1 ? " was" : "s were") << " there already, from the copy resumed\n";
        }
        if (!report.paused.empty()) std::cout << "paused there too: " << joined(report.paused) << "\n";
        if (!report.schedules.empty()) std::cout << "schedules going on from their last fire: " << joined(report.schedules) << "\n";
        std::cout << "its event feed goes on from event " << report.event << " (store.copied)\n";
    }
    if (missed > 0) {
        std::cerr << "sandhost copy: " << missed << " job" << (missed == 1 ? " was" : "s were")
                  << " enqueued while it copied and " << (missed == 1 ? "is" : "are") << " not in " << describe(target)
                  << ": stop every producer, empty the copy and run it again\n";
        return k_exit_failed;
    }
    return k_exit_ok;
}

} // namespace sandhost::cli
