#include "store/attempt_codec.h"
#include "model/text.h"

#include <gtest/gtest.h>

namespace sandhost::store {
namespace {

model::Outcome full_outcome()
{
    model::Outcome o;
    o.kind = model::OutcomeKind::crashed;
    o.error = "segfault in \"parse\"\n";
    o.permanent = true;
    o.signal_number = 11;
    o.core_dumped = true;
    o.killed = true;
    o.isolation = "fork";
    o.fallback = "inline";
    o.duration = std::chrono::milliseconds(1234);
    o.pid = 777;
    o.max_rss_kb = 65536;
    o.cpu_ms = 999;
    o.stdout_tail = std::string("out\x01\0line\n", 10);
    o.stderr_tail = "err \xE2\x82\xAC";
    o.progress = model::ProgressReport{42.5, "halfway"};
    o.started_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
    o.ended_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'001'357));
    return o;
}

TEST(AttemptRecord, EveryFieldReadsBack)
{
    const model::Outcome o = full_outcome();
    const auto back = decode_outcome(encode_outcome(o));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->kind, o.kind);
    EXPECT_EQ(back->error, o.error);
    EXPECT_EQ(back->permanent, o.permanent);
    EXPECT_EQ(back->signal_number, o.signal_number);
    EXPECT_EQ(back->core_dumped, o.core_dumped);
    EXPECT_EQ(back->killed, o.killed);
    EXPECT_EQ(back->isolation, o.isolation);
    EXPECT_EQ(back->fallback, o.fallback);
    EXPECT_EQ(back->duration, o.duration);
    EXPECT_EQ(back->pid, o.pid);
    EXPECT_EQ(back->max_rss_kb, o.max_rss_kb);
    EXPECT_EQ(back->cpu_ms, o.cpu_ms);
    EXPECT_EQ(back->stdout_tail, o.stdout_tail);
    EXPECT_EQ(back->stderr_tail, o.stderr_tail);
    EXPECT_EQ(back->progress, o.progress);
    EXPECT_EQ(back->started_at, o.started_at);
    EXPECT_EQ(back->ended_at, o.ended_at);
}

TEST(AttemptRecord, InvalidUtf8InTailsStillReadsBack)
{
    model::Outcome o;
    o.kind = model::OutcomeKind::failed;
    o.error = "bad \xFF byte";
    o.stdout_tail = "binary \xFE\xFF\x80 output";
    const auto back = decode_outcome(encode_outcome(o));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->error, "bad \xEF\xBF\xBD byte");
    EXPECT_EQ(back->stdout_tail, "binary \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD output");
}

TEST(AttemptRecord, ResultIsNotInTheRecord)
{
    model::Outcome o;
    o.kind = model::OutcomeKind::succeeded;
    o.result = "a result the store keeps as bytes";
    const std::string json = encode_outcome(o);
    EXPECT_EQ(json.find("a result"), std::string::npos) << json;
    ASSERT_TRUE(decode_outcome(json).has_value());
    EXPECT_EQ(decode_outcome(json)->kind, model::OutcomeKind::succeeded);
}

TEST(AttemptRecord, GarbageIsNotARecord)
{
    EXPECT_FALSE(decode_outcome("not json").has_value());
    EXPECT_FALSE(decode_outcome("{\"outcome\": \"exploded\"}").has_value());
}

} // namespace
} // namespace sandhost::store
