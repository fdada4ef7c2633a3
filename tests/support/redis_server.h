// A redis-server of a test's own: on a free loopback port and a Unix socket, in a temporary
// folder, with the append-only file on (appendfsync everysec: the server writes a change to the
// file before it answers, so a killed server loses nothing it acknowledged), no snapshots. The
// test can kill it (SIGKILL) and start it again on the same port and folder, where it reads its
// append-only file back. It is the child of a thread of its own, which kills and reaps it when
// told to or when the RedisServer is destroyed, and whose end kills it too (a parent death
// signal): no server outlives its test. Not a child of the main thread, whose children a
// Spawner takes for a dead worker's orphans and ends.
#pragma once

#include "test_support.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <thread>

namespace sandhost::testing {

class RedisServer {
public:
    struct Options {
        bool append_only = true;
        std::string password;  // requirepass; empty: none
    };
    // Starts the server and waits until it answers. Throws std::runtime_error when redis-server
    // is not installed (see .ci/setup) or does not start.
    RedisServer() : RedisServer(Options{}) {}
    explicit RedisServer(Options options);
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    std::uint16_t port() const { return m_port; }
    const std::filesystem::path& socket() const { return m_socket; }
    const std::filesystem::path& dir() const { return m_dir.path(); }
    pid_t pid() const { return m_pid; }
    // redis://127.0.0.1:PORT/0 (with :PASSWORD@ when there is one)
    std::string url() const;

    // SIGKILL, and reaped: as a crash of the server.
    void kill();
    // Starts it again on the same port and folder, and waits until it answers.
    void start();
    // Sends one command (inline protocol, no quoting) and returns the server's reply as it
    // came, e.g. "+OK\r\n"; for what the tests set up behind the store's back.
    std::string command(const std::string& line) const;

private:
    bool answers() const;
    // Starts the keeper thread, which forks the server; the server's pid, or -1.
    pid_t launch();

    Options m_options;
    TempDir m_dir;
    std::filesystem::path m_socket;
    std::uint16_t m_port = 0;
    pid_t m_pid = -1;
    std::thread m_keeper;
    std::mutex m_mutex;
    std::condition_variable m_told;
    bool m_stop = false;
};

// The path of redis-server (on PATH, or as SANDHOST_TEST_REDIS_SERVER names it), or empty when
// it is not installed (or SANDHOST_TEST_REDIS_SERVER is set and empty).
std::filesystem::path redis_server_executable();

} // namespace sandhost::testing

// The first line of a test (or of its fixture's SetUp) that needs a redis-server: skips it, and
// says why, when none is installed. Anywhere else a missing server is a failure.
#define SANDHOST_SKIP_WITHOUT_REDIS_SERVER()                                                                  \
    do {                                                                                                      \
        if (::sandhost::testing::redis_server_executable().empty()) {                                         \
            GTEST_SKIP() << "redis-server is not installed (.ci/setup installs it): this Redis test is skipped"; \
        }                                                                                                     \
    } while (false)

namespace sandhost::testing {

} // namespace sandhost::testing
