// A redis-server of a test's own: on a free loopback port and a Unix socket, in a temporary
// folder, with the append-only file on (appendfsync everysec: the server writes a change to the
// file before it answers, so a killed server loses nothing it acknowledged), no snapshots. The test can kill it (SIGKILL) and start it again on the same port and folder,
// where it reads its append-only file back. It dies with the thread that started it (a parent
// death signal) and is killed and reaped by the destructor: no server outlives its test.
#pragma once

#include "test_support.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <sys/types.h>

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

    Options m_options;
    TempDir m_dir;
    std::filesystem::path m_socket;
    std::uint16_t m_port = 0;
    pid_t m_pid = -1;
};

// The path of redis-server, or empty when it is not installed.
std::filesystem::path redis_server_executable();

} // namespace sandhost::testing
