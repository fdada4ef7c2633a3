#include "model/outcome.h"

#include <gtest/gtest.h>

#include <csignal>

namespace sandhost::model {
namespace {

TEST(Outcome, JsonRoundTrips)
{
    Outcome o;
    o.kind = OutcomeKind::crashed;
    o.error = "worker died by SIGSEGV";
    o.signal_number = SIGSEGV;
    o.core_dumped = true;
    o.pid = 42;
    o.max_rss_kb = 1234;
    o.cpu_ms = 5;
    o.duration = std::chrono::milliseconds(17);
    o.stdout_tail = "out\n\"quoted\"";
    o.progress = ProgressReport{50, "half"};
    o.started_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
    o.ended_at = o.started_at + std::chrono::milliseconds(17);
    const auto json = to_json(o);
    EXPECT_NE(json.find(R"("outcome":"crashed")"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("signal":"SIGSEGV","signal_number":11,"core_dumped":true)"), std::string::npos) << json;
    EXPECT_EQ(json.find("exit_code"), std::string::npos);
    auto back = outcome_from_json(json);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->kind, o.kind);
    EXPECT_EQ(back->signal_number, o.signal_number);
    EXPECT_EQ(back->stdout_tail, o.stdout_tail);
    EXPECT_EQ(back->progress, o.progress);
    EXPECT_EQ(back->started_at, o.started_at);
    EXPECT_EQ(back->ended_at, o.ended_at);
    EXPECT_EQ(back->duration, o.duration);
}

TEST(Outcome, RetryableFollowsTheTable)
{
    for (auto kind : {OutcomeKind::failed, OutcomeKind::timed_out, OutcomeKind::crashed, OutcomeKind::exited, OutcomeKind::resource_limit,
                      OutcomeKind::protocol_error, OutcomeKind::spawn_failed, OutcomeKind::worker_lost}) {
        Outcome o;
        o.kind = kind;
        EXPECT_TRUE(retryable(o)) << to_string(kind);
    }
    for (auto kind : {OutcomeKind::succeeded, OutcomeKind::load_failed, OutcomeKind::result_too_large, OutcomeKind::cancelled}) {
        Outcome o;
        o.kind = kind;
        EXPECT_FALSE(retryable(o)) << to_string(kind);
    }
}

TEST(Outcome, TheTasksLogReadsBackAndStaysBounded)
{
    Outcome o;
    o.kind = OutcomeKind::failed;
    const auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
    for (std::size_t i = 0; i < k_kept_log_lines + 3; ++i) keep_log_line(o, LogLine{LogLevel::debug, at, "m" + std::to_string(i)});
    keep_log_line(o, LogLine{LogLevel::error, at, std::string(k_kept_log_line_bytes + 10, 'x')});
    EXPECT_EQ(o.log.size(), k_kept_log_lines);
    EXPECT_EQ(o.log_dropped, 4u);
    EXPECT_EQ(o.log.back().message.size(), k_kept_log_line_bytes + 3) << "cut, with an ellipsis";
    const auto back = outcome_from_json(to_json(o));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->log, o.log);
    EXPECT_EQ(back->log_dropped, 4u);
    EXPECT_NE(to_json(o).find(R"("level":"debug","time":"2023-11-14T22:13:20.123Z","message":"m4")"), std::string::npos);
    EXPECT_EQ(log_level_from_number(7), LogLevel::error);
    EXPECT_EQ(to_json(Outcome{}).find("\"log\""), std::string::npos) << "no log, no field";
}

TEST(Outcome, KindAndLimitNamesReadBack)
{
    for (const auto& entry : k_outcome_kind_names) EXPECT_EQ(outcome_kind_from_string(to_string(entry.value)), entry.value);
    for (const auto& entry : k_limit_kind_names) EXPECT_EQ(limit_kind_from_string(to_string(entry.value)), entry.value);
    EXPECT_FALSE(outcome_kind_from_string("crash"));
    EXPECT_FALSE(limit_kind_from_string(""));
}

} // namespace
} // namespace sandhost::model
