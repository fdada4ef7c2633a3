// Copying a store into another (store::copy_store, Store::import_jobs): every job arrives as it
// was, with its attempts, and the copy goes on from there as the original would have. Each
// store kind is copied into each kind.
#include "store_test_support.h"

#include "model/job_json.h"
#include "store/attempt_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace sandhost::store {
namespace {

using namespace testing;
using model::JobState;
using model::OutcomeKind;

class StoreCopyTest : public StoreTest {
protected:
    // Every job of `s`, newest first.
    static std::vector<model::Job> everything(Store& s)
    {
        JobFilter all;
        all.limit = 0;
        return s.list(all);
    }

    // `count` jobs enqueued at t(0) in the largest batches a call takes, into queues "odd" and
    // "even" in turn; their ids, oldest first.
    static std::vector<model::JobId> enqueue_odd_and_even(Store& s, std::size_t count)
    {
        std::vector<model::NewJob> batch;
        for (std::size_t i = 0; i < count; ++i) batch.push_back(new_job(i % 2 ? "odd" : "even"));
        std::vector<model::JobId> ids;
        for (std::size_t at = 0; at < batch.size(); at += k_max_enqueue_batch) {
            const std::vector<model::NewJob> part(batch.begin() + static_cast<std::ptrdiff_t>(at),
                                                  batch.begin() + static_cast<std::ptrdiff_t>(std::min(batch.size(), at + k_max_enqueue_batch)));
            for (const auto& r : s.enqueue_jobs(part, t(0))) ids.push_back(r.id);
        }
        return ids;
    }

    // The stores to copy into: one of each kind this machine can run, in folders of their own.
    std::vector<std::pair<std::string, std::unique_ptr<Store>>> targets()
    {
        std::vector<std::pair<std::string, std::unique_ptr<Store>>> out;
        for (const auto& kind : store_kinds()) {
            if (kind.needs_redis_server && sandhost::testing::redis_server_executable().empty()) continue;
            m_target_dirs.emplace_back(std::make_unique<TempDir>());
            out.emplace_back(kind.name, kind.open(m_target_dirs.back()->path()));
        }
        return out;
    }

    // The same job, field for field (the JSON the API serves, and what it leaves out).
    static void expect_same(const model::Job& copied, const model::Job& original, Store& to, Store& from)
    {
        SCOPED_TRACE("job " + std::to_string(original.id));
        const auto attempts = from.attempts(original.id);
        const auto copied_attempts = to.attempts(copied.id);
        EXPECT_EQ(model::to_json(copied, &copied_attempts), model::to_json(original, &attempts));
        EXPECT_EQ(copied.ttl, original.ttl);
        EXPECT_EQ(copied.depends_on, original.depends_on);
        ASSERT_EQ(copied_attempts.size(), attempts.size());
        for (std::size_t i = 0; i < attempts.size(); ++i) {
            EXPECT_EQ(copied_attempts[i].attempt_id, attempts[i].attempt_id);
            EXPECT_EQ(copied_attempts[i].number, attempts[i].number);
            EXPECT_EQ(copied_attempts[i].host, attempts[i].host);
            EXPECT_EQ(encode_outcome(copied_attempts[i].outcome), encode_outcome(attempts[i].outcome));
            EXPECT_EQ(copied_attempts[i].outcome.result, attempts[i].outcome.result);
        }
    }

    std::vector<std::unique_ptr<TempDir>> m_target_dirs;
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreCopyTest, ::testing::ValuesIn(store_kinds()), store_kind_name);

TEST_P(StoreCopyTest, EveryJobArrivesAsItWasAndGoesOnFromThere)
{
    Store& from = store();
    // A waiting job with everything a job can carry.
    model::NewJob rich = new_job();
    rich.task = "plugin.rich";
    rich.payload = std::string("{\"bytes\": \"a\\u0000b\"}");
    rich.priority = 5;
    rich.timeout = ms(2'500);
    rich.max_attempts = 4;
    rich.ttl = ms(3'600'000);
    rich.key = "order-17";
    const model::JobId waiting = from.enqueue(rich, t(0));
    // Delayed, and a job blocked on it (enqueued after it: copied before it, newest first).
    model::NewJob later = new_job();
    later.delay = ms(60'000);
    const model::JobId delayed = from.enqueue(later, t(1));
    model::NewJob after = new_job();
    after.depends_on = {delayed};
    const model::JobId blocked = from.enqueue(after, t(2));
    // Completed on its second attempt, after a failure and with progress reported.
    const model::JobId completed = from.enqueue(new_job("q2"), t(3));
    {
        const Claim first = testing::claim_one(from, "q2", t(10));
        auto failed = record_of(first, OutcomeKind::failed, t(20));
        failed.outcome.error = "first try";
        failed.outcome.stderr_tail = "trace\n";
        ASSERT_TRUE(from.finish(failed, to(JobState::waiting), t(20)));
        const Claim second = testing::claim_one(from, "q2", t(30));
        ASSERT_TRUE(from.set_progress(completed, second.attempt_id, model::Progress{62.5, "most of it"}));
        auto succeeded = record_of(second, OutcomeKind::succeeded, t(40));
        succeeded.outcome.result = "{\"sum\": 42}";
        ASSERT_TRUE(from.finish(succeeded, completed_with(succeeded.outcome.result), t(40)));
    }
    // Dead with its error, cancelled, and one born dead with its dependency.
    model::NewJob once = new_job("q2");
    once.max_attempts = 1;
    const model::JobId dead = from.enqueue(once, t(50));
    {
        const Claim only = testing::claim_one(from, "q2", t(60));
        auto crashed = record_of(only, OutcomeKind::crashed, t(70));
        crashed.outcome.signal_number = 11;
        crashed.outcome.core_dumped = true;
        Transition gone = to(JobState::dead);
        gone.error = "crashed by SIGSEGV";
        gone.counts_as_lost = true;
        ASSERT_TRUE(from.finish(crashed, gone, t(70)));
    }
    const model::JobId cancelled = from.enqueue(new_job("q3"), t(80));
    ASSERT_EQ(from.cancel(cancelled, t(90)), CancelResult::cancelled);
    model::NewJob orphan = new_job("q3");
    orphan.depends_on = {cancelled};
    const model::JobId born_dead = from.enqueue(orphan, t(95));
    // A finished job with a key holds it no longer; a paused queue; a schedule's firings.
    model::NewJob keyed_done = new_job("q2");
    keyed_done.key = "done-key";
    const model::JobId keyed_completed = from.enqueue(keyed_done, t(96));
    ASSERT_TRUE(claim_and_complete(from, {"q2"}, t(97)));
    from.set_paused("q3", true);
    model::NewJob fired = new_job();
    ASSERT_FALSE(from.fire_schedule("nightly", t(0), fired, t(0)));
    const auto fired_id = from.fire_schedule("nightly", t(1'000), fired, t(100));
    ASSERT_TRUE(fired_id);

    const auto originals = everything(from);
    ASSERT_EQ(originals.size(), 9u);
    for (auto& [name, to] : targets()) {
        SCOPED_TRACE(GetParam().name + " into " + name);
        std::vector<CopyReport> told;
        const CopyReport report = copy_store(from, *to, "the original", {"nightly", "never-fired"}, t(200), [&](const CopyReport& r) { told.push_back(r); });
        EXPECT_EQ(report.jobs, 9u);
        EXPECT_EQ(report.attempts, 4u);
        EXPECT_EQ(report.paused, std::vector<std::string>{"q3"});
        EXPECT_EQ(report.schedules, std::vector<std::string>{"nightly"});
        EXPECT_EQ(report.newest, originals.front().id);
        ASSERT_FALSE(told.empty());
        EXPECT_EQ(told.back().jobs, 9u);

        const auto copies = everything(*to);
        ASSERT_EQ(copies.size(), originals.size());
        for (std::size_t i = 0; i < copies.size(); ++i) expect_same(copies[i], originals[i], *to, from);
        EXPECT_EQ(to->paused_queues(), std::vector<std::string>{"q3"});
        EXPECT_EQ(to->schedule_last_fire("nightly"), t(1'000));
        EXPECT_FALSE(to->schedule_last_fire("never-fired"));
        const auto counts = to->queue_counts({});
        const auto original_counts = from.queue_counts({});
        ASSERT_EQ(counts.size(), original_counts.size());
        for (const auto& [queue, c] : original_counts) {
            SCOPED_TRACE(queue);
            ASSERT_TRUE(counts.count(queue));
            EXPECT_EQ(counts.at(queue).by_state, c.by_state);
            EXPECT_EQ(counts.at(queue).paused, c.paused);
            EXPECT_EQ(counts.at(queue).earliest_due, c.earliest_due);
        }
        // No job event is copied or written; the feed goes on above the original's last event.
        const auto original_events = from.events_after(0, 10'000);
        ASSERT_FALSE(original_events.empty());
        const auto events = to->events_after(0, 100);
        ASSERT_FALSE(events.empty());
        EXPECT_EQ(events.back().type, "store.copied");
        EXPECT_EQ(events.back().detail, "the original");
        EXPECT_EQ(events.back().id, report.event);
        EXPECT_GT(report.event, original_events.back().id);
        for (const auto& event : events) EXPECT_TRUE(event.type == "queue.paused" || event.type == "store.copied") << event.type;
        const model::JobId next = to->enqueue(new_job("q3"), t(250));
        const auto resumed = to->events_after(original_events.back().id, 10);
        ASSERT_EQ(resumed.size(), 2u) << "a reader resuming from the original's last event";
        EXPECT_EQ(resumed[1].job, next);
        ASSERT_EQ(to->cancel(next, t(251)), CancelResult::cancelled);
        ASSERT_EQ(to->remove(next), RemoveResult::removed);

        // It goes on: the key of the unfinished job is held, the finished one's is free again.
        const auto again = to->enqueue_job(rich, t(300));
        EXPECT_FALSE(again.created);
        EXPECT_EQ(again.id, waiting);
        model::NewJob reuse_key = new_job("q2");
        reuse_key.key = "done-key";
        const auto fresh = to->enqueue_job(reuse_key, t(301));
        EXPECT_TRUE(fresh.created);
        const model::JobId newest = std::max({waiting, delayed, blocked, completed, dead, cancelled, born_dead, keyed_completed, *fired_id});
        EXPECT_GT(fresh.id, newest) << "new ids come after every copied one";
        // Claimed in the order it had: priority first.
        const Claim first = testing::claim_one(*to, "q", t(400));
        EXPECT_EQ(first.job.id, waiting);
        EXPECT_EQ(first.number, 1u);
        auto done = record_of(first, OutcomeKind::succeeded, t(410));
        ASSERT_TRUE(to->finish(done, completed_with("ok"), t(410)));
        // The job scheduled by "nightly" waits behind it; the delayed one comes due later; its
        // completion releases the job blocked on it.
        EXPECT_EQ(testing::claim_one(*to, "q", t(420)).job.id, *fired_id);
        EXPECT_FALSE(to->claim(allow({"q"}), "host/1", ms(10'000), t(500))) << "the delayed job is not due yet";
        const Claim due = testing::claim_one(*to, "q", t(70'000));
        EXPECT_EQ(due.job.id, delayed);
        const auto attempts_before = from.attempts(completed);
        EXPECT_GT(due.attempt_id, attempts_before.back().attempt_id) << "new attempt ids come after every copied one";
        ASSERT_TRUE(to->finish(record_of(due, OutcomeKind::succeeded, t(70'010)), completed_with("1"), t(70'010)));
        EXPECT_EQ(job_of(*to, blocked).state, JobState::waiting);
        // The dead job runs again when retried (behind the new job due before it), its attempts
        // numbered on from its copy's.
        ASSERT_TRUE(to->retry(dead, t(80'000)));
        EXPECT_EQ(testing::claim_one(*to, "q2", t(80'001)).job.id, fresh.id);
        const Claim rerun = testing::claim_one(*to, "q2", t(80'001));
        EXPECT_EQ(rerun.job.id, dead);
        EXPECT_EQ(rerun.number, 2u);
        // The source is as it was.
        const auto unchanged = everything(from);
        ASSERT_EQ(unchanged.size(), originals.size());
        for (std::size_t i = 0; i < unchanged.size(); ++i) EXPECT_EQ(model::to_json(unchanged[i], nullptr), model::to_json(originals[i], nullptr));
    }
}

TEST_P(StoreCopyTest, ManyJobsCrossEveryStepAndDependenciesFindEachOther)
{
    Store& from = store();
    // More jobs than one step takes; the last depends on the first, which is copied last.
    const std::vector<model::JobId> ids = enqueue_odd_and_even(from, 1'200);
    model::NewJob last = new_job("even");
    last.depends_on = {ids.front()};
    const model::JobId dependent = from.enqueue(last, t(1));
    for (auto& [name, to] : targets()) {
        SCOPED_TRACE(GetParam().name + " into " + name);
        std::vector<std::uint64_t> steps;
        // A job enqueued while it copies is above the walk's first page: not copied, and known.
        std::optional<model::JobId> meanwhile;
        const auto report = copy_store(from, *to, "the original", {}, t(2), [&](const CopyReport& r) {
            steps.push_back(r.jobs);
            if (!meanwhile) meanwhile = from.enqueue(new_job("even"), t(2));
        });
        EXPECT_EQ(report.jobs, 1'201u);
        ASSERT_TRUE(meanwhile);
        EXPECT_EQ(report.newest, dependent);
        EXPECT_GT(*meanwhile, report.newest);
        EXPECT_FALSE(to->get(*meanwhile));
        ASSERT_EQ(from.cancel(*meanwhile, t(2)), CancelResult::cancelled);
        ASSERT_EQ(from.remove(*meanwhile), RemoveResult::removed);
        EXPECT_GE(steps.size(), 3u) << "at most " << k_max_import_batch << " jobs a step";
        EXPECT_EQ(everything(*to).size(), 1'201u);
        EXPECT_EQ(job_of(*to, dependent).state, JobState::blocked);
        // The first job, copied last, still releases its dependent when it completes.
        Claim first = testing::claim_one(*to, "even", t(3));
        EXPECT_EQ(first.job.id, ids.front());
        ASSERT_TRUE(to->finish(record_of(first, OutcomeKind::succeeded, t(4)), completed_with("1"), t(4)));
        EXPECT_EQ(job_of(*to, dependent).state, JobState::waiting);
    }
}

// A copy that stopped part way (here: its progress callback throws after the first step) goes
// on with CopyStart::resume, which leaves the jobs there as they are and copies the rest; a store
// whose jobs are not all the same as the original's is refused before anything is written.
TEST_P(StoreCopyTest, ACopyThatStoppedPartWayGoesOnWhenResumedAndOnlyFromAPartOfItself)
{
    Store& from = store();
    const std::vector<model::JobId> ids = enqueue_odd_and_even(from, 1'000);
    // The second job ran once and waits for another attempt (an attempt to copy); the newest
    // waits for the oldest, which the resumed copy brings long after its dependent.
    Claim ran = testing::claim_one(from, "odd", t(1));
    ASSERT_EQ(ran.job.id, ids[1]);
    ASSERT_TRUE(from.finish(record_of(ran, OutcomeKind::failed, t(2)), to(JobState::waiting), t(2)));
    model::NewJob last = new_job("even");
    last.depends_on = {ids.front()};
    const model::JobId dependent = from.enqueue(last, t(2));
    from.set_paused("odd", true);
    const std::size_t total = everything(from).size();

    auto stopped_part_way = [&](Store& to) {
        try {
            copy_store(from, to, "the original", {}, t(4), [](const CopyReport&) { throw std::runtime_error("the server went away"); });
            ADD_FAILURE() << "the copy did not stop";
        } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "the server went away");
        }
        const auto held = everything(to).size();
        EXPECT_GT(held, 0u);
        EXPECT_LT(held, total);
        return held;
    };
    for (auto& [name, to] : targets()) {
        SCOPED_TRACE(GetParam().name + " into " + name);
        const auto held = stopped_part_way(*to);
        EXPECT_THROW(copy_store(from, *to, "the original", {}, t(5)), StoreRequestError) << "not without resume";
        const auto report = copy_store(from, *to, "the original", {}, t(5), {}, CopyStart::resume);
        EXPECT_EQ(report.already, held);
        EXPECT_EQ(report.jobs, total - held);
        EXPECT_EQ(report.paused, std::vector<std::string>{"odd"});
        const auto copied = everything(*to);
        const auto original = everything(from);
        ASSERT_EQ(copied.size(), original.size());
        for (std::size_t i = 0; i < copied.size(); ++i) expect_same(copied[i], original[i], *to, from);
        // Resumed again, there is nothing left to copy.
        const auto again = copy_store(from, *to, "the original", {}, t(6), {}, CopyStart::resume);
        EXPECT_EQ(again.jobs, 0u);
        EXPECT_EQ(again.already, total);
        // The copy goes on: the oldest job, copied last, releases the newest.
        EXPECT_EQ(job_of(*to, dependent).state, JobState::blocked);
        Claim first = testing::claim_one(*to, "even", t(10));
        EXPECT_EQ(first.job.id, ids.front());
        ASSERT_TRUE(to->finish(record_of(first, OutcomeKind::succeeded, t(11)), completed_with("1"), t(11)));
        EXPECT_EQ(job_of(*to, dependent).state, JobState::waiting);
    }
    // A job there that the original lacks, or one that changed since it was copied: refused,
    // and nothing written.
    for (auto& [name, to] : targets()) {
        SCOPED_TRACE(GetParam().name + " into " + name + ", with a job of its own");
        const auto held = stopped_part_way(*to);
        const model::JobId own = to->enqueue(new_job("theirs"), t(4));
        try {
            copy_store(from, *to, "the original", {}, t(5), {}, CopyStart::resume);
            ADD_FAILURE() << "resumed into a store with a job of its own";
        } catch (const StoreRequestError& e) {
            EXPECT_NE(std::string(e.what()).find("that the store to copy does not (job " + std::to_string(own) + ")"), std::string::npos) << e.what();
        }
        EXPECT_EQ(everything(*to).size(), held + 1);
    }
    for (auto& [name, to] : targets()) {
        SCOPED_TRACE(GetParam().name + " into " + name + ", with a job changed");
        const auto held = stopped_part_way(*to);
        const model::JobId changed = everything(*to).back().id;
        ASSERT_EQ(to->cancel(changed, t(4)), CancelResult::cancelled);
        try {
            copy_store(from, *to, "the original", {}, t(5), {}, CopyStart::resume);
            ADD_FAILURE() << "resumed into a store whose job changed";
        } catch (const StoreRequestError& e) {
            EXPECT_NE(std::string(e.what()).find("job " + std::to_string(changed) + " is not the same"), std::string::npos) << e.what();
        }
        EXPECT_EQ(everything(*to).size(), held);
    }
    // Into an empty store, resume is a whole copy; a job enqueued after it (one a copy reports
    // as enqueued meanwhile) comes with the next resume.
    for (auto& [name, to] : targets()) {
        SCOPED_TRACE(GetParam().name + " into an empty " + name);
        const auto whole = everything(from).size();
        const auto report = copy_store(from, *to, "the original", {}, t(5), {}, CopyStart::resume);
        EXPECT_EQ(report.already, 0u);
        EXPECT_EQ(report.jobs, whole);
        const model::JobId later = from.enqueue(new_job("even"), t(6));
        const auto next = copy_store(from, *to, "the original", {}, t(6), {}, CopyStart::resume);
        EXPECT_EQ(next.jobs, 1u);
        EXPECT_EQ(next.already, whole);
        ASSERT_TRUE(to->get(later));
        EXPECT_EQ(model::to_json(*to->get(later), nullptr), model::to_json(*from.get(later), nullptr));
    }
}

TEST_P(StoreCopyTest, NothingIsCopiedIntoAStoreWithJobsOrFromOneWithRunningJobs)
{
    Store& from = store();
    const model::JobId one = from.enqueue(new_job(), t(0));
    for (auto& [name, to] : targets()) {
        SCOPED_TRACE(GetParam().name + " into " + name);
        const model::JobId own = to->enqueue(new_job("theirs"), t(0));
        try {
            copy_store(from, *to, "the original", {}, t(1));
            ADD_FAILURE() << "copied into a store with jobs";
        } catch (const StoreRequestError& e) {
            EXPECT_NE(std::string(e.what()).find("holds jobs already"), std::string::npos) << e.what();
        }
        EXPECT_EQ(everything(*to).size(), 1u);
        EXPECT_EQ(everything(*to).front().id, own);
    }
    claim_one("q", t(2));
    for (auto& [name, to] : targets()) {
        SCOPED_TRACE(GetParam().name + " into " + name);
        try {
            copy_store(from, *to, "the original", {}, t(3));
            ADD_FAILURE() << "copied a running job";
        } catch (const StoreRequestError& e) {
            EXPECT_NE(std::string(e.what()).find("running jobs"), std::string::npos) << e.what();
        }
        EXPECT_TRUE(everything(*to).empty());
        // import_jobs itself refuses one, and an id it holds, adding nothing.
        auto active = job_of(from, one);
        EXPECT_THROW(to->import_jobs({JobCopy{active, {}}}, t(3)), StoreRequestError);
        model::Job waiting = active;
        waiting.state = JobState::waiting;
        waiting.lease.reset();
        waiting.attempts = 0;
        waiting.attempts_since_retry = 0;
        to->import_jobs({JobCopy{waiting, {}}}, t(3));
        model::Job another = waiting;
        another.id = one + 1;
        EXPECT_THROW(to->import_jobs({JobCopy{another, {}}, JobCopy{waiting, {}}}, t(3)), StoreRequestError);
        EXPECT_FALSE(to->get(one + 1)) << "a refused step adds nothing";
        EXPECT_THROW(to->import_jobs(std::vector<JobCopy>(k_max_import_batch + 1, JobCopy{another, {}}), t(3)), StoreRequestError);
    }
}

} // namespace
} // namespace sandhost::store
