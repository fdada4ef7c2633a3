#include "redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sandhost::testing {
namespace {

// A port nobody listens on now (the kernel's pick for a socket bound to port 0).
std::uint16_t free_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error(std::string("cannot find a free port: ") + std::strerror(errno));
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

// Connects to 127.0.0.1:port, sends `request`, returns what comes back until the server is
// quiet for 50 ms (at most a second).
std::string round_trip(std::uint16_t port, const std::string& request)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd readable{fd, POLLIN, 0};
            if (::poll(&readable, 1, 50) <= 0) {
                if (!reply.empty()) break;
                continue;
            }
            char buffer[4096];
            const ssize_t n = ::read(fd, buffer, sizeof buffer);
            if (n <= 0) break;
            reply.append(buffer, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return reply;
}

} // namespace

std::filesystem::path redis_server_executable()
{
    // SANDHOST_TEST_REDIS_SERVER names another build of the server; set and empty, none.
    if (const char* chosen = std::getenv("SANDHOST_TEST_REDIS_SERVER")) {
        if (*chosen == '\0' || ::access(chosen, X_OK) != 0) return {};
        return chosen;
    }
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    dirs += ":/usr/sbin:/usr/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const auto end = dirs.find(':', start);
        const std::filesystem::path candidate = std::filesystem::path(dirs.substr(start, end - start)) / "redis-server";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return {};
}

RedisServer::RedisServer(Options options) : m_options(std::move(options)), m_socket(m_dir / "redis.sock")
{
    if (redis_server_executable().empty()) {
        throw std::runtime_error("redis-server is not installed: the Redis store's tests need it (.ci/setup installs it)");
    }
    // Another process may take the port between free_port() and the server's bind: try again.
    for (int tries = 0;; ++tries) {
        m_port = free_port();
        try {
            start();
            return;
        } catch (const std::runtime_error&) {
            if (tries == 4) throw;
        }
    }
}

RedisServer::~RedisServer() { kill(); }

std::string RedisServer::url() const
{
    return "redis://" + (m_options.password.empty() ? std::string() : ":" + m_options.password + "@") + "127.0.0.1:" +
           std::to_string(m_port) + "/0";
}

pid_t RedisServer::launch()
{
    const std::string executable = redis_server_executable().string();
    std::vector<std::string> args = {executable,
                                     "--port", std::to_string(m_port),
                                     "--bind", "127.0.0.1",
                                     "--unixsocket", m_socket.string(),
                                     "--unixsocketperm", "700",
                                     "--dir", m_dir.path().string(),
                                     "--logfile", (m_dir / "redis.log").string(),
                                     "--daemonize", "no",
                                     "--save", "",
                                     "--appendonly", m_options.append_only ? "yes" : "no",
                                     "--appendfsync", "everysec"};
    if (!m_options.password.empty()) {
        args.push_back("--requirepass");
        args.push_back(m_options.password);
    }
    std::promise<pid_t> forked;
    auto pid = forked.get_future();
    m_stop = false;
    m_keeper = std::thread([this, args = std::move(args), &forked]() mutable {
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        const pid_t parent = ::getpid();
        const pid_t child = ::fork();
        if (child == 0) {
            // Only async-signal-safe calls between fork and exec.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            ::setpgid(0, 0);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        forked.set_value(child);
        if (child < 0) return;
        {
            std::unique_lock lock(m_mutex);
            m_told.wait(lock, [this] { return m_stop; });
        }
        ::kill(child, SIGKILL);
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
    });
    return pid.get();
}

void RedisServer::start()
{
    m_pid = launch();
    if (m_pid < 0) {
        kill();
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
            // Reaped here: the keeper's kill and wait find nothing.
            m_pid = -1;
            kill();
            throw std::runtime_error("redis-server on port " + std::to_string(m_port) + " exited at start (see its log)");
        }
        if (answers()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill();
    throw std::runtime_error("redis-server on port " + std::to_string(m_port) + " did not answer within 20 s");
}

bool RedisServer::answers() const
{
    // +PONG, or -NOAUTH / -LOADING: someone is there; a server still loading its file is not
    // ready yet.
    const std::string reply = round_trip(m_port, "PING\r\n");
    return reply.starts_with("+PONG") || reply.starts_with("-NOAUTH");
}

void RedisServer::kill()
{
    if (!m_keeper.joinable()) return;
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_told.notify_all();
    m_keeper.join();
    m_pid = -1;
}

std::string RedisServer::command(const std::string& line) const
{
    std::string request;
    if (!m_options.password.empty()) request += "AUTH " + m_options.password + "\r\n";
    request += line + "\r\n";
    std::string reply = round_trip(m_port, request);
    if (!m_options.password.empty() && reply.starts_with("+OK\r\n")) reply.erase(0, 5);
    return reply;
}

} // namespace sandhost::testing
