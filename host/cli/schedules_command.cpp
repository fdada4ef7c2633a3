// `sandhost schedules`: the configuration's schedules with their last and next fire times, and
// `sandhost schedules run NAME`: a schedule's job enqueued now, by hand.
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/host_context.h"
#include "cli/job_format.h"
#include "scheduler/enqueue_policy.h"
#include "scheduler/schedule_clock.h"

#include <Poco/JSON/Parser.h>

#include <iostream>

namespace sandhost::cli {
namespace {

using Clock = std::chrono::system_clock;

int run_schedule(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {config_option(), {"json", "", "print {\"id\", \"schedule\"}"}, {"help", "", "show this help"}};
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        return print_help("sandhost schedules run NAME [--json]",
                          "Enqueues the job of schedule NAME now (its queue, task and payload), as its next period would; the\n"
                          "schedule's own periods go on as before. Prints the job's id.",
                          options);
    }
    if (args.positional.size() != 1) throw UsageError("expected one schedule NAME");
    auto context = open_host_context(args);
    const config::ScheduleSettings* schedule = nullptr;
    try {
        schedule = &scheduler::schedule_named(*context.settings, args.positional[0]);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    scheduler::Enqueued enqueued;
    try {
        enqueued = scheduler::enqueue(*context.store, *context.settings, scheduler::schedule_request(*schedule), Clock::now());
    } catch (const scheduler::EnqueueError& e) {
        std::cerr << "sandhost schedules run: schedule " << schedule->name << " cannot enqueue its job: " << e.what() << "\n";
        return k_exit_failed;
    }
    for (const auto& note : enqueued.notes) std::cerr << "sandhost schedules run: note: " << note << "\n";
    if (args.has("json")) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("id", static_cast<Poco::Int64>(enqueued.id));
        o.set("schedule", schedule->name);
        print_json(o);
    } else {
        std::cout << enqueued.id << "\n";
    }
    return k_exit_ok;
}

} // namespace

int schedules_command(const std::vector<std::string>& raw)
{
    if (!raw.empty() && raw[0] == "run") return run_schedule({raw.begin() + 1, raw.end()});
    const std::vector<OptionSpec> options = {config_option(), {"json", "", "print a JSON array of schedules"}, {"help", "", "show this help"}};
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        return print_help("sandhost schedules [--json]\n       sandhost schedules run NAME [--json]",
                          "Lists the configuration's schedules: queue, task, trigger, when each last fired and fires next.\n"
                          "`schedules run NAME` enqueues a schedule's job now (`sandhost schedules run --help`).",
                          options);
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    auto context = open_host_context(args);
    const auto now = Clock::now();
    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    for (const auto& schedule : context.settings->schedules) {
        list->add(Poco::JSON::Parser().parse(scheduler::schedule_json(schedule, context.store->schedule_last_fire(schedule.name), now)));
    }
    if (args.has("json")) {
        print_json(list);
        return k_exit_ok;
    }
    std::cout << schedules_table(*list);
    return k_exit_ok;
}

} // namespace sandhost::cli
