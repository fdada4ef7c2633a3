// The fork-server role through a real `sandhost-worker --role fork-server`, driven as the host
// drives one: preload, then one fork_job per job with the job's descriptors attached.
#include "child_processes.h"
#include "host_end.h"
#include "os/clock.h"
#include "os/fd.h"
#include "os/proc.h"
#include "protocol/messages.h"
#include "protocol/worker_exit.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <poll.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace sandhost::worker {
namespace {

namespace t = sandhost::testing;
using protocol::MessageType;
using protocol::WorkerExit;

// The host's ends of one forked job's descriptors.
struct JobEnds {
    os::UniqueFd channel;     // from the child
    os::UniqueFd channel_to;  // to the child
    os::UniqueFd out;
    os::UniqueFd err;
    os::UniqueFd status;
};

// Sends fork_job with the child's ends of a new channel (a pipe to it, one from it), stdout,
// stderr and status pipe, then `group_files` (what the child is to enter its group by).
// `queued_job`, when given, is a job message put in the channel before the request goes, for
// the child to find there.
std::optional<JobEnds> send_fork_job(test::HostEnd& server, const protocol::ForkJob& request = {}, const std::vector<int>& group_files = {},
                                     const std::optional<std::string>& queued_job = std::nullopt)
{
    auto to_child = os::make_nonblocking_pipe();
    auto from_child = os::make_pipe();
    auto out = os::make_pipe();
    auto err = os::make_pipe();
    auto status = os::make_pipe();
    if (!to_child || !from_child || !out || !err || !status) return std::nullopt;
    if (queued_job && !test::send_frame(to_child->write.get(), MessageType::job, *queued_job)) return std::nullopt;
    std::vector<int> passed{to_child->read.get(), from_child->write.get(), out->write.get(), err->write.get(), status->write.get()};
    passed.insert(passed.end(), group_files.begin(), group_files.end());
    const std::string frame = protocol::encode_frame(MessageType::fork_job, protocol::encode(request));
    if (!os::send_with_fds(server.channel(), frame, passed)) return std::nullopt;
    return JobEnds{std::move(from_child->read), std::move(to_child->write), std::move(out->read), std::move(err->read), std::move(status->read)};
}

std::string job(const std::filesystem::path& plugin, const std::string& task = {}, const std::string& payload = {})
{
    protocol::Job message;
    message.plugin_path = plugin.string();
    message.task = task;
    message.payload = payload;
    message.max_result = 1 << 20;
    return protocol::encode(message);
}

// The child status the server writes once it reaped a job's child.
std::optional<protocol::ChildStatus> read_child_status(int fd)
{
    std::string bytes;
    while (bytes.size() < protocol::k_child_status_size) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20000) <= 0) return std::nullopt;
        char buffer[64];
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) return std::nullopt;
        bytes.append(buffer, static_cast<std::size_t>(n));
    }
    return protocol::decode_child_status(bytes);
}

class ForkServerRole : public test::LeavesNoProcess {
protected:
    // A server that said hello and preloaded misbehave.
    void start_loaded(test::HostEnd& server)
    {
        ASSERT_TRUE(server.said_hello());
        ASSERT_TRUE(server.send(MessageType::job, job(t::plugin("misbehave"))));
        const auto ready = server.frames().next_report();
        ASSERT_TRUE(ready && ready->type == MessageType::ready);
    }
    // The server's answer to a fork job, decoded: the child's pid, or -1 and why; nullopt when
    // something else came, or nothing.
    static std::optional<protocol::Forked> forked_answer(test::HostEnd& server)
    {
        const auto answer = server.frames().next_report();
        if (!answer || answer->type != MessageType::forked) return std::nullopt;
        return protocol::decode_forked(answer->body);
    }
};

TEST_F(ForkServerRole, TheChildEntersItsGroupByItselfBeforeItReadsItsJob)
{
    // Pipes stand for the files the child enters the attempt's group by (a v1 group has one per
    // controller): whatever is written into them is what the kernel would have read.
    test::HostEnd server("fork-server");
    start_loaded(server);
    auto memory_entry = os::make_pipe();
    auto pids_entry = os::make_pipe();
    ASSERT_TRUE(memory_entry && pids_entry);
    auto ends = send_fork_job(server, protocol::ForkJob{2}, {memory_entry->write.get(), pids_entry->write.get()});
    ASSERT_TRUE(ends);
    memory_entry->write.reset();
    pids_entry->write.reset();
    const auto forked = forked_answer(server);
    ASSERT_TRUE(forked && forked->pid > 0);
    // Read to their end before the job is sent: the child wrote "0" (itself) into each and
    // closed them, and the server kept no copy, all before the child had its job.
    for (const auto* entry : {&memory_entry.value(), &pids_entry.value()}) {
        std::string written;
        char buffer[64];
        for (ssize_t n; (n = ::read(entry->read.get(), buffer, sizeof buffer)) > 0;) written.append(buffer, static_cast<std::size_t>(n));
        EXPECT_EQ(written, "0");
    }
    ASSERT_TRUE(test::send_frame(ends->channel_to.get(), MessageType::job, job(t::plugin("misbehave"), "echo", "[1]")));
    test::FrameReader reader(ends->channel.get());
    const auto report = reader.next_report();
    ASSERT_TRUE(report && report->type == MessageType::done);
    ASSERT_TRUE(read_child_status(ends->status.get()));
    ASSERT_TRUE(server.send(MessageType::shutdown, {}));
    ASSERT_TRUE(server.wait_for_exit());
}

TEST_F(ForkServerRole, AChildThatCannotEnterItsGroupExitsWithoutRunningItsJob)
{
    // A descriptor the child cannot write (a pipe's read end) stands for a group the kernel
    // refuses to let it into. The job waits in the channel before the child has it: a child
    // that ran it would answer.
    test::HostEnd server("fork-server");
    start_loaded(server);
    auto refused = os::make_pipe();
    ASSERT_TRUE(refused);
    auto ends = send_fork_job(server, protocol::ForkJob{1}, {refused->read.get()}, job(t::plugin("misbehave"), "echo", "[1]"));
    ASSERT_TRUE(ends);
    const auto answer = server.frames().next_report();
    ASSERT_TRUE(answer && answer->type == MessageType::forked);
    const auto child_status = read_child_status(ends->status.get());
    ASSERT_TRUE(child_status);
    EXPECT_TRUE(WIFEXITED(child_status->wait_status));
    EXPECT_EQ(WEXITSTATUS(child_status->wait_status), protocol::exit_code(protocol::WorkerExit::setup_failed));
    test::FrameReader reader(ends->channel.get());
    EXPECT_FALSE(reader.next_report()) << "the child ran its job outside its group";
    std::string said;
    char buffer[512];
    for (ssize_t n; (n = ::read(ends->err.get(), buffer, sizeof buffer)) > 0;) said.append(buffer, static_cast<std::size_t>(n));
    EXPECT_NE(said.find("control group"), std::string::npos) << said;
    ASSERT_TRUE(server.send(MessageType::shutdown, {}));
    ASSERT_TRUE(server.wait_for_exit());
}

TEST_F(ForkServerRole, ForksAChildPerJobWhenItComes)
{
    test::HostEnd server("fork-server");
    start_loaded(server);
    EXPECT_TRUE(os::children_of(server.pid()).empty()) << "a child forked before any job";

    for (int i = 0; i < 2; ++i) {
        SCOPED_TRACE(i);
        auto ends = send_fork_job(server);
        ASSERT_TRUE(ends);
        const std::string payload = "[" + std::to_string(i) + "]";
        ASSERT_TRUE(test::send_frame(ends->channel_to.get(), MessageType::job, job(t::plugin("misbehave"), "echo", payload)));
        const auto forked = forked_answer(server);
        ASSERT_TRUE(forked);
        ASSERT_GT(forked->pid, 0) << forked->error;

        // No ready on the job's channel: the server's stands for its children.
        test::FrameReader reader(ends->channel.get());
        const auto report = reader.next_report();
        ASSERT_TRUE(report && report->type == MessageType::done) << (report ? protocol::to_string(report->type) : "nothing");
        const auto done = protocol::decode_done(report->body);
        ASSERT_TRUE(done);
        EXPECT_EQ(done->status, protocol::Done::Status::ok);
        EXPECT_EQ(done->data, payload);

        const auto status = read_child_status(ends->status.get());
        ASSERT_TRUE(status);
        const auto exit = process::ExitStatus::from_wait_status(status->wait_status);
        EXPECT_EQ(exit.kind, process::ExitStatus::Kind::exited);
        EXPECT_EQ(exit.exit_code, 0);
        EXPECT_FALSE(test::exists(static_cast<pid_t>(forked->pid))) << "the server writes the status once it reaped the child";
        EXPECT_TRUE(os::children_of(server.pid()).empty()) << "a child left between jobs";
    }

    ASSERT_TRUE(server.send(MessageType::shutdown, {}));
    const auto status = server.wait_for_exit();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->kind, process::ExitStatus::Kind::exited);
    EXPECT_EQ(status->exit_code, 0);
    EXPECT_EQ(server.stderr_text(), "");
}

// The server keeps its children's leases: the child runs no thread to watch its own.
TEST_F(ForkServerRole, EndsAChildWhoseLeaseRunsOutUnrenewedWithEverythingItStarted)
{
    test::HostEnd server("fork-server");
    start_loaded(server);
    protocol::ForkJob request;
    request.lease_ms = 300;
    auto ends = send_fork_job(server, request);
    ASSERT_TRUE(ends);
    // A child in a session of its own, which sleeps for ever: only the server's stop ends it.
    ASSERT_TRUE(test::send_frame(ends->channel_to.get(), MessageType::job, job(t::plugin("misbehave"), "spawn_children", R"({"count":1,"setsid":true})")));
    const auto answer = server.frames().next_report();
    ASSERT_TRUE(answer && answer->type == MessageType::forked);
    const auto status = read_child_status(ends->status.get());
    ASSERT_TRUE(status);
    EXPECT_GE(status->lease_overdue_ms, 0);
    const auto exit = process::ExitStatus::from_wait_status(status->wait_status);
    EXPECT_EQ(exit.kind, process::ExitStatus::Kind::signalled);
    EXPECT_EQ(exit.signal_number, SIGKILL);
    ASSERT_TRUE(server.send(MessageType::shutdown, {}));
    ASSERT_TRUE(server.wait_for_exit());
    // LeavesNoProcess checks that the child's own child went too.
}

TEST_F(ForkServerRole, RenewalsKeepAChildGoingPastItsFirstLease)
{
    test::HostEnd server("fork-server");
    start_loaded(server);
    // One for a child the server does not have changes nothing.
    ASSERT_TRUE(server.send(MessageType::child_lease, protocol::encode(protocol::ChildLease{999'999'999, 1})));
    protocol::ForkJob request;
    request.lease_ms = 300;
    auto ends = send_fork_job(server, request);
    ASSERT_TRUE(ends);
    ASSERT_TRUE(test::send_frame(ends->channel_to.get(), MessageType::job, job(t::plugin("misbehave"), "sleep", R"({"ms":1200})")));
    const auto forked = forked_answer(server);
    ASSERT_TRUE(forked && forked->pid > 0);
    std::optional<protocol::ChildStatus> status;
    std::thread renewer([&] {
        pollfd p{ends->status.get(), POLLIN, 0};
        while (::poll(&p, 1, 50) == 0) {
            if (!server.send(MessageType::child_lease, protocol::encode(protocol::ChildLease{forked->pid, os::monotonic_ms() + 300}))) break;
        }
    });
    status = read_child_status(ends->status.get());
    renewer.join();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->lease_overdue_ms, -1);
    const auto exit = process::ExitStatus::from_wait_status(status->wait_status);
    EXPECT_EQ(exit.kind, process::ExitStatus::Kind::exited);
    EXPECT_EQ(exit.exit_code, 0);
    test::FrameReader reader(ends->channel.get());
    const auto report = reader.next_report();
    ASSERT_TRUE(report && report->type == MessageType::done);
    ASSERT_TRUE(server.send(MessageType::shutdown, {}));
    ASSERT_TRUE(server.wait_for_exit());
}

TEST_F(ForkServerRole, ClosingTheChannelEndsTheServerAndItsRunningJob)
{
    test::HostEnd server("fork-server");
    start_loaded(server);
    auto ends = send_fork_job(server);
    ASSERT_TRUE(ends);
    ASSERT_TRUE(test::send_frame(ends->channel_to.get(), MessageType::job, job(t::plugin("misbehave"), "sleep", R"({"ms":60000})")));
    const auto forked = forked_answer(server);
    ASSERT_TRUE(forked && forked->pid > 0);
    server.close_channel();
    const auto status = server.wait_for_exit();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->exit_code, 0);
    // Its parent-death signal ends the job's process with the server; orphaned, it comes back
    // to this process (a subreaper, as a host is) to be reaped.
    const auto job_end = test::wait_for_exit(static_cast<pid_t>(forked->pid));
    ASSERT_TRUE(job_end) << "the job outlived its server";
    EXPECT_EQ(job_end->kind, process::ExitStatus::Kind::exited);
    EXPECT_EQ(job_end->exit_code, protocol::exit_code(protocol::WorkerExit::host_died));
}

TEST_F(ForkServerRole, DescriptorsThatDidNotArriveAreAnsweredAndTheServerGoesOn)
{
    test::HostEnd server("fork-server");
    start_loaded(server);
    ASSERT_TRUE(server.send(MessageType::fork_job, {}));
    const auto forked = forked_answer(server);
    ASSERT_TRUE(forked);
    EXPECT_EQ(forked->pid, -1);
    EXPECT_EQ(forked->error, "the job's descriptors did not arrive");
    ASSERT_TRUE(server.send(MessageType::shutdown, {}));
    const auto status = server.wait_for_exit();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->exit_code, 0);
}

TEST_F(ForkServerRole, AJobBeforeItsPluginEndsItWithUnexpectedMessage)
{
    test::HostEnd server("fork-server");
    ASSERT_TRUE(server.said_hello());
    ASSERT_TRUE(send_fork_job(server));
    server.expect_gave_up(WorkerExit::unexpected_message, "unexpected 'fork_job' from the host before the plugin was loaded");
}

TEST_F(ForkServerRole, APreloadThatDoesNotDecodeEndsItWithBrokenFrame)
{
    test::HostEnd server("fork-server");
    ASSERT_TRUE(server.said_hello());
    ASSERT_TRUE(server.send(MessageType::job, "not a job"));
    server.expect_gave_up(WorkerExit::broken_frame, "malformed job message from the host");
}

TEST_F(ForkServerRole, ThePreloadRunsInitAndReportsItsFailure)
{
    test::HostEnd server("fork-server");
    ASSERT_TRUE(server.said_hello());
    ASSERT_TRUE(server.send(MessageType::job, job(t::fixture_plugin_dir() / "init_fails.so")));
    const auto answer = server.frames().next_report();
    ASSERT_TRUE(answer && answer->type == MessageType::load_failed);
    const auto failed = protocol::decode_load_failed(answer->body);
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->message, "plugin init_fails failed to initialise: license file /nonexistent/license.key not found");
    const auto status = server.wait_for_exit();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->exit_code, 0);
}

} // namespace
} // namespace sandhost::worker
