// The worker's end of the channel: a held frame goes out with the next one, in one write and
// in order, and never alone.
#include "worker/worker_channel.h"

#include "protocol/frame.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sandhost::worker {
namespace {

using protocol::MessageType;

TEST(WorkerChannel, AHeldFrameGoesOutWithTheNextOneInOneWrite)
{
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    os::UniqueFd host(fds[0]);
    WorkerChannel channel{os::UniqueFd(fds[1])};

    channel.hold(MessageType::loaded, {});
    pollfd readable{host.get(), POLLIN, 0};
    EXPECT_EQ(::poll(&readable, 1, 0), 0) << "a held frame was sent on its own";

    ASSERT_TRUE(channel.send(MessageType::ready, "baseline"));
    char buffer[256];
    const ssize_t n = ::recv(host.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    ASSERT_GT(n, 0);
    protocol::FrameDecoder decoder(1024);
    decoder.feed(buffer, static_cast<std::size_t>(n));
    auto first = decoder.next();
    ASSERT_EQ(first.status, protocol::FrameDecoder::Status::frame);
    EXPECT_EQ(first.frame.type, MessageType::loaded);
    auto second = decoder.next();
    ASSERT_EQ(second.status, protocol::FrameDecoder::Status::frame);
    EXPECT_EQ(second.frame.type, MessageType::ready);
    EXPECT_EQ(second.frame.body, "baseline");
    EXPECT_EQ(decoder.next().status, protocol::FrameDecoder::Status::need_more);

    // Nothing is held any more: the next frame goes alone.
    ASSERT_TRUE(channel.send(MessageType::heartbeat, {}));
    const ssize_t alone = ::recv(host.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    decoder.feed(buffer, static_cast<std::size_t>(alone));
    EXPECT_EQ(decoder.next().frame.type, MessageType::heartbeat);
    EXPECT_EQ(decoder.next().status, protocol::FrameDecoder::Status::need_more);
}

} // namespace
} // namespace sandhost::worker
