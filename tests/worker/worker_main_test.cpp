// The worker's arguments and start-up, and how a spawn-role worker meets a host that breaks
// the protocol: each ends with its own exit code and a line that says why.
#include "worker/worker_main.h"

#include "child_processes.h"
#include "host_end.h"
#include "os/clock.h"
#include "os/fd.h"
#include "protocol/messages.h"
#include "protocol/worker_exit.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sys/socket.h>
#include <vector>

namespace sandhost::worker {
namespace {

namespace t = sandhost::testing;
using protocol::MessageType;
using protocol::WorkerExit;

std::optional<Arguments> parse(std::vector<const char*> args)
{
    args.insert(args.begin(), "sandhost-worker");
    return parse_arguments(static_cast<int>(args.size()), args.data());
}

TEST(Arguments, TheHostsArgumentsInAnyOrder)
{
    const auto args = parse({"--role", "fork-server", "--channel-fd", "7", "--host-pid", "1234", "--signals-clean", "1"});
    ASSERT_TRUE(args);
    EXPECT_EQ(args->channel_fd, 7);
    EXPECT_EQ(args->host_pid, 1234);
    EXPECT_EQ(args->role, Role::fork_server);
    EXPECT_TRUE(args->signals_clean);
    const auto defaults = parse({"--channel-fd", "0", "--host-pid", "1"});
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults->channel_fd, 0);
    EXPECT_EQ(defaults->role, Role::spawn);
    EXPECT_FALSE(defaults->signals_clean);
    EXPECT_EQ(parse({"--channel-fd", "3", "--host-pid", "1", "--role", "reuse"})->role, Role::reuse);
}

TEST(Arguments, AnythingElseIsRefused)
{
    EXPECT_FALSE(parse({}));
    EXPECT_FALSE(parse({"--channel-fd", "3"}));
    EXPECT_FALSE(parse({"--host-pid", "1"}));
    EXPECT_FALSE(parse({"--channel-fd", "3", "--host-pid", "1", "--role"}));
    EXPECT_FALSE(parse({"--channel-fd", "3", "--host-pid", "1", "--role", "server"}));
    EXPECT_FALSE(parse({"--channel-fd", "3", "--host-pid", "1", "--verbose", "1"}));
    EXPECT_FALSE(parse({"--channel-fd", "three", "--host-pid", "1"}));
    EXPECT_FALSE(parse({"--channel-fd", "3x", "--host-pid", "1"}));
    EXPECT_FALSE(parse({"--channel-fd", "-1", "--host-pid", "1"}));
    EXPECT_FALSE(parse({"--channel-fd", "3", "--host-pid", "0"}));
    EXPECT_FALSE(parse({"--channel-fd", "3", "--host-pid", "99999999999999999999"}));
}

TEST(Arguments, TheSyscallFilterIsAProgramInHexWholeEntriesOnly)
{
    // One entry: BPF_RET|BPF_K (0x0006), no jumps, SECCOMP_RET_ALLOW (0x7fff0000), little-endian.
    const char* allow_all = "060000000000ff7f";
    const auto args = parse({"--channel-fd", "3", "--host-pid", "1", "--syscalls-filter", allow_all, "--syscalls-denies-ptrace", "1"});
    ASSERT_TRUE(args);
    EXPECT_TRUE(args->privileges.filter);
    ASSERT_EQ(args->privileges.program.size(), 1u);
    EXPECT_EQ(args->privileges.program[0].code, 0x0006);
    EXPECT_EQ(args->privileges.program[0].k, 0x7fff0000u);
    EXPECT_TRUE(args->privileges.denies_ptrace);
    EXPECT_FALSE(parse({"--channel-fd", "3", "--host-pid", "1"})->privileges.filter);
    for (const char* bad : {"", "0600000000", "060000000000ff7", "060000000000FF7F", "06000000000gff7f", "060000000000ff7f06"}) {
        EXPECT_FALSE(parse({"--channel-fd", "3", "--host-pid", "1", "--syscalls-filter", bad})) << bad;
    }
    const std::string too_long(2 * 8 * (BPF_MAXINSNS + 1), '0');
    EXPECT_FALSE(parse({"--channel-fd", "3", "--host-pid", "1", "--syscalls-filter", too_long.c_str()}));
    EXPECT_FALSE(parse({"--channel-fd", "3", "--host-pid", "1", "--syscalls-denies-ptrace", "yes"}));
}

TEST(WorkerStart, ByHandItIsAUsageError)
{
    for (const std::vector<std::string>& argv : {std::vector<std::string>{t::worker_executable().string()},
                                                 {t::worker_executable().string(), "--channel-fd", "x", "--host-pid", "1"}}) {
        const auto result = t::run_command(argv);
        EXPECT_EQ(result.exit_code, protocol::exit_code(WorkerExit::usage)) << result.err;
        EXPECT_NE(result.err.find("usage: sandhost-worker --channel-fd N --host-pid PID"), std::string::npos) << result.err;
        EXPECT_EQ(result.out, "");
    }
}

TEST(WorkerStart, AHostThatIsNotItsParentCountsAsDead)
{
    // The worker asks to die with the host it was told of; when that is not its parent, the
    // host died before it could ask. Nobody is left to read a word about it.
    const auto result = t::run_command({t::worker_executable().string(), "--channel-fd", "0", "--host-pid", "1"});
    EXPECT_EQ(result.exit_code, protocol::exit_code(WorkerExit::host_died)) << result.err;
    EXPECT_EQ(result.err, "");
}

class ServingJobs : public test::LeavesNoProcess {};

TEST_F(ServingJobs, AMessageItHasNoUseForEndsItWithUnexpectedMessage)
{
    test::HostEnd worker("spawn");
    ASSERT_TRUE(worker.said_hello());
    ASSERT_TRUE(worker.send(MessageType::forked, protocol::encode(protocol::Forked{1, {}})));
    worker.expect_gave_up(WorkerExit::unexpected_message, "unexpected 'forked' from the host between jobs");
}

TEST_F(ServingJobs, AMalformedJobEndsItWithBrokenFrame)
{
    test::HostEnd worker("spawn");
    ASSERT_TRUE(worker.said_hello());
    ASSERT_TRUE(worker.send(MessageType::job, "not a job"));
    worker.expect_gave_up(WorkerExit::broken_frame, "malformed job message from the host");
}

TEST_F(ServingJobs, GarbageOnTheChannelEndsItWithBrokenFrame)
{
    test::HostEnd worker("spawn");
    ASSERT_TRUE(worker.said_hello());
    ASSERT_EQ(::send(worker.channel(), "garbage!", 8, MSG_NOSIGNAL), 8);
    worker.expect_gave_up(WorkerExit::broken_frame, "broken frame from the host: bad frame magic");
}

protocol::Job job_for(const std::filesystem::path& plugin, const std::string& task, std::uint64_t lease_ms)
{
    protocol::Job job;
    job.plugin_path = plugin.string();
    job.task = task;
    job.payload = "{}";
    job.max_result = 1 << 20;
    job.lease_ms = lease_ms;
    return job;
}

// A spawn worker that said hello, sent a misbehave job with `payload` and a lease.
::testing::AssertionResult sent_leased_job(test::HostEnd& worker, const std::string& task, const std::string& payload, std::uint64_t lease_ms)
{
    if (!worker.said_hello()) return ::testing::AssertionFailure() << "no hello";
    auto job = job_for(t::plugin("misbehave"), task, lease_ms);
    job.payload = payload;
    if (!worker.send(MessageType::job, protocol::encode(job))) return ::testing::AssertionFailure() << "cannot send the job";
    return ::testing::AssertionSuccess();
}

TEST_F(ServingJobs, ThePluginsCodeRunsBetweenLoadingAndLoaded)
{
    test::HostEnd worker("spawn");
    ASSERT_TRUE(worker.said_hello());
    ASSERT_TRUE(worker.send(MessageType::job, protocol::encode(job_for(t::plugin("misbehave"), "echo", 0))));
    std::vector<MessageType> seen;
    while (seen.empty() || seen.back() != MessageType::done) {
        const auto frame = worker.frames().next();
        ASSERT_TRUE(frame) << "the worker stopped talking";
        if (frame->type != MessageType::log) seen.push_back(frame->type);
    }
    EXPECT_EQ(seen, (std::vector<MessageType>{MessageType::loading, MessageType::loaded, MessageType::ready, MessageType::done}));
}

// Sends enter_group with `files` attached, as the host hands a spawned or reused worker its
// control group.
::testing::AssertionResult sent_group(test::HostEnd& worker, const std::vector<int>& files)
{
    const std::string frame =
        protocol::encode_frame(MessageType::enter_group, protocol::encode(protocol::EnterGroup{static_cast<std::uint32_t>(files.size())}));
    if (!os::send_with_fds(worker.channel(), frame, files)) return ::testing::AssertionFailure() << "cannot send the files";
    return ::testing::AssertionSuccess();
}

// What was written into a pipe, read to its end.
std::string written_into(int read_end)
{
    std::string written;
    char buffer[64];
    for (ssize_t n; (n = ::read(read_end, buffer, sizeof buffer)) > 0;) written.append(buffer, static_cast<std::size_t>(n));
    return written;
}

TEST_F(ServingJobs, ItEntersItsGroupByItselfBeforeItReadsItsJobAndKeepsNoCopy)
{
    // Pipes stand for the files of a v1 group's hierarchies: what is written into them is what
    // the kernel would have read. Nothing else is sent: a worker that waited for its job first
    // would write nothing.
    for (const char* role : {"spawn", "reuse"}) {
        SCOPED_TRACE(role);
        test::HostEnd worker(role);
        ASSERT_TRUE(worker.said_hello());
        auto memory_entry = os::make_pipe();
        auto pids_entry = os::make_pipe();
        ASSERT_TRUE(memory_entry && pids_entry);
        ASSERT_TRUE(sent_group(worker, {memory_entry->write.get(), pids_entry->write.get()}));
        memory_entry->write.reset();
        pids_entry->write.reset();
        EXPECT_EQ(written_into(memory_entry->read.get()), "0");
        EXPECT_EQ(written_into(pids_entry->read.get()), "0") << "read to its end: the worker closed its copy";
        ASSERT_TRUE(worker.send(MessageType::job, protocol::encode(job_for(t::plugin("misbehave"), "echo", 0))));
        std::optional<protocol::Frame> report;
        while ((report = worker.frames().next_report()) && report->type != MessageType::done) {
        }
        ASSERT_TRUE(report) << "the job did not run";
        worker.close_channel();
        EXPECT_TRUE(worker.wait_for_exit());
    }
}

TEST_F(ServingJobs, AWorkerThatCannotEnterItsGroupExitsWithoutRunningItsJob)
{
    // A pipe's read end stands for a group the kernel refuses to let it into; the job is sent
    // at once behind it. The worker may have given up before the job reaches it: then the send
    // fails, and what counts is the same.
    test::HostEnd worker("spawn");
    ASSERT_TRUE(worker.said_hello());
    auto refused = os::make_pipe();
    ASSERT_TRUE(refused);
    ASSERT_TRUE(sent_group(worker, {refused->read.get()}));
    [[maybe_unused]] const bool job_sent = worker.send(MessageType::job, protocol::encode(job_for(t::plugin("misbehave"), "echo", 0)));
    worker.expect_gave_up(WorkerExit::setup_failed, "write(0 into the attempt's control group)");
    EXPECT_FALSE(worker.frames().next(std::chrono::seconds(2))) << "it said something after it could not enter";
}

TEST_F(ServingJobs, AGroupWithoutItsFilesOrAfterThePluginLoadedIsRefused)
{
    {
        test::HostEnd worker("spawn");
        ASSERT_TRUE(worker.said_hello());
        ASSERT_TRUE(worker.send(MessageType::enter_group, protocol::encode(protocol::EnterGroup{2})));
        worker.expect_gave_up(WorkerExit::broken_frame, "enter_group message from the host without the files it names");
    }
    {
        // After a reused worker's first job its plugin may have started threads: v1's `tasks`
        // would move the main thread alone.
        test::HostEnd worker("reuse");
        ASSERT_TRUE(worker.said_hello());
        ASSERT_TRUE(worker.send(MessageType::job, protocol::encode(job_for(t::plugin("misbehave"), "echo", 0))));
        std::optional<protocol::Frame> report;
        while ((report = worker.frames().next_report()) && report->type != MessageType::done) {
        }
        ASSERT_TRUE(report);
        auto entry = os::make_pipe();
        ASSERT_TRUE(entry);
        ASSERT_TRUE(sent_group(worker, {entry->write.get()}));
        worker.expect_gave_up(WorkerExit::unexpected_message, "'enter_group' from the host once threads may have started");
    }
}

TEST_F(ServingJobs, AWorkerWhoseLeaseRunsOutUnrenewedStopsItselfAndItsChildren)
{
    test::HostEnd worker("spawn");
    ASSERT_TRUE(sent_leased_job(worker, "spawn_children", R"({"count":2})", 400));
    const auto ready = worker.frames().next_report();
    ASSERT_TRUE(ready && ready->type == MessageType::ready);
    worker.expect_gave_up(WorkerExit::lease_expired, "the job's lease ran out");
    // LeavesNoProcess checks that the children went with it.
}

TEST_F(ServingJobs, EachRenewalMovesTheLeasesEnd)
{
    test::HostEnd worker("spawn");
    ASSERT_TRUE(sent_leased_job(worker, "sleep", R"({"ms":1200})", 300));
    // Renewals until the task reports: four of its leases and more pass meanwhile.
    std::optional<protocol::Frame> report;
    for (int round = 0; round < 300 && (!report || report->type == MessageType::ready); ++round) {
        ASSERT_TRUE(worker.send(MessageType::lease, protocol::encode(protocol::Lease{os::monotonic_ms() + 300})))
            << "the worker stopped although its lease was renewed: " << worker.stderr_text();
        report = worker.frames().next_report(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(report) << "no report";
    ASSERT_EQ(report->type, MessageType::done);
    const auto done = protocol::decode_done(report->body);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, protocol::Done::Status::ok) << done->data;
    const auto status = worker.wait_for_exit();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->exit_code, 0);
}

TEST_F(ServingJobs, ARenewalNamesWhenTheLeaseEndsNotHowLongItLasts)
{
    // The watch reads renewals only when the lease would run out: one naming a point already
    // past keeps nothing going (read as a length from then, it would have renewed the lease).
    test::HostEnd worker("spawn");
    ASSERT_TRUE(sent_leased_job(worker, "sleep", R"({"ms":60000})", 400));
    ASSERT_TRUE(worker.send(MessageType::lease, protocol::encode(protocol::Lease{os::monotonic_ms() - 1})));
    const auto ready = worker.frames().next_report();
    ASSERT_TRUE(ready && ready->type == MessageType::ready);
    worker.expect_gave_up(WorkerExit::lease_expired, "the job's lease ran out");
}

TEST_F(ServingJobs, AClosedChannelIsTheEndNotAnError)
{
    test::HostEnd worker("reuse");
    ASSERT_TRUE(worker.said_hello());
    worker.close_channel();
    const auto status = worker.wait_for_exit();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->kind, process::ExitStatus::Kind::exited);
    EXPECT_EQ(status->exit_code, 0);
    EXPECT_EQ(worker.stderr_text(), "");
}

} // namespace
} // namespace sandhost::worker
