#include "protocol/frame.h"
#include "protocol/messages.h"

#include <gtest/gtest.h>

#include <random>

namespace sandhost::protocol {
namespace {

TEST(Frame, RoundTripsEveryMessage)
{
    Job job;
    job.plugin_path = "/p/x.so";
    job.task = "echo";
    job.payload = std::string("{\"a\":1}\0binary", 14);
    job.max_result = 123;
    job.limits.memory_bytes = 1 << 20;
    job.limits.cpu_ms = 1500;
    job.describe = false;
    job.lease_ms = 12'000;
    auto decoded = decode_job(encode(job));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->lease_ms, 12'000u);
    EXPECT_EQ(decoded->plugin_path, job.plugin_path);
    EXPECT_EQ(decoded->payload, job.payload);
    EXPECT_EQ(decoded->limits.memory_bytes, job.limits.memory_bytes);
    EXPECT_EQ(decoded->limits.cpu_ms, job.limits.cpu_ms);
    EXPECT_FALSE(decoded->limits.open_files);

    Done done{Done::Status::error, true, "broke", 0};
    auto d = decode_done(encode(done));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, Done::Status::error);
    EXPECT_TRUE(d->permanent);
    EXPECT_EQ(d->data, "broke");

    const auto lease = decode_lease(encode(Lease{4500}));
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease->until_ms, 4500);
    EXPECT_FALSE(decode_lease("short"));

    const auto renewal = decode_child_lease(encode(ChildLease{4242, 900}));
    ASSERT_TRUE(renewal);
    EXPECT_EQ(renewal->pid, 4242);
    EXPECT_EQ(renewal->until_ms, 900);
    EXPECT_FALSE(decode_child_lease(encode(Lease{900})));

    EXPECT_EQ(encode(ForkJob{}), "") << "no group, no lease: an empty body";
    const auto fork_job = decode_fork_job(encode(ForkJob{2, 30'000}));
    ASSERT_TRUE(fork_job);
    EXPECT_EQ(fork_job->cgroup_fds, 2u);
    EXPECT_EQ(fork_job->lease_ms, 30'000u);
    ASSERT_TRUE(decode_fork_job(""));
    EXPECT_EQ(decode_fork_job("")->lease_ms, 0u);

    ChildStatus ended;
    ended.wait_status = 9;
    ended.max_rss_kb = 1500;
    ended.lease_overdue_ms = 3;
    const std::string status_bytes = encode(ended);
    EXPECT_EQ(status_bytes.size(), k_child_status_size);
    const auto status = decode_child_status(status_bytes);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->wait_status, 9);
    EXPECT_EQ(status->max_rss_kb, 1500u);
    EXPECT_EQ(status->lease_overdue_ms, 3);
    EXPECT_EQ(decode_child_status(encode(ChildStatus{}))->lease_overdue_ms, -1) << "not ended for its lease";

    Description description{"p", "1.0", {{"a", "does a"}, {"b", ""}}};
    auto desc = decode_description(encode(description));
    ASSERT_TRUE(desc);
    ASSERT_EQ(desc->tasks.size(), 2u);
    EXPECT_EQ(desc->tasks[0].description, "does a");
}

TEST(Frame, DecoderReassemblesByteByByte)
{
    const std::string wire = encode_frame(MessageType::log, encode(Log{2, "hello"})) + encode_frame(MessageType::heartbeat, "");
    FrameDecoder decoder(1024);
    std::vector<Frame> frames;
    for (char c : wire) {
        decoder.feed(&c, 1);
        for (auto next = decoder.next(); next.status == FrameDecoder::Status::frame; next = decoder.next()) frames.push_back(next.frame);
    }
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].type, MessageType::log);
    EXPECT_EQ(decode_log(frames[0].body)->message, "hello");
    EXPECT_EQ(frames[1].type, MessageType::heartbeat);
}

TEST(Frame, JunkIsBrokenNotAHang)
{
    FrameDecoder decoder(1024);
    const std::string junk = "GARBAGE!";
    decoder.feed(junk.data(), junk.size());
    auto next = decoder.next();
    EXPECT_EQ(next.status, FrameDecoder::Status::broken);
    EXPECT_NE(next.error.find("magic"), std::string::npos);
}

TEST(Frame, OversizedFrameIsBrokenAndSaysWhichType)
{
    FrameDecoder decoder(100);
    const std::string wire = encode_frame(MessageType::done, std::string(101, 'x'));
    decoder.feed(wire.data(), 8);  // the header alone decides
    auto next = decoder.next();
    ASSERT_EQ(next.status, FrameDecoder::Status::broken);
    EXPECT_EQ(next.oversized_type, MessageType::done);
    EXPECT_EQ(next.oversized_length, 101u);
}

TEST(Frame, UnknownTypeAndVersionAreBroken)
{
    std::string wire = encode_frame(MessageType::log, "");
    wire[3] = 99;
    FrameDecoder a(1024);
    a.feed(wire.data(), wire.size());
    EXPECT_EQ(a.next().status, FrameDecoder::Status::broken);
    wire = encode_frame(MessageType::log, "");
    wire[2] = 7;
    FrameDecoder b(1024);
    b.feed(wire.data(), wire.size());
    EXPECT_NE(b.next().error.find("version 7"), std::string::npos);
}

TEST(Frame, TruncatedBodiesDoNotDecode)
{
    const std::string body = encode(Done{Done::Status::ok, false, "result", 0});
    for (std::size_t cut = 0; cut < body.size(); ++cut) EXPECT_FALSE(decode_done(body.substr(0, cut))) << cut;
    EXPECT_FALSE(decode_done(body + "x"));
}

TEST(Frame, RandomBytesNeverCrashTheDecoders)
{
    std::mt19937 rng(42);
    for (int round = 0; round < 2000; ++round) {
        std::string bytes(rng() % 64, '\0');
        for (char& c : bytes) c = static_cast<char>(rng());
        decode_job(bytes);
        decode_lease(bytes);
        decode_child_lease(bytes);
        decode_fork_job(bytes);
        decode_child_status(bytes);
        decode_done(bytes);
        decode_description(bytes);
        decode_progress(bytes);
        FrameDecoder decoder(1 << 20);
        decoder.feed(bytes.data(), bytes.size());
        decoder.next();
    }
}

} // namespace
} // namespace sandhost::protocol
