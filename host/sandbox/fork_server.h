// ForkServer: the host's handle on a fork server, a worker process that holds one plugin
// loaded and initialised and forks a fresh child per job. Each child gets its own channel and
// output pipes (created by the host, passed over the server's channel) and is supervised by a
// WorkerSession exactly like a spawned worker.
#pragma once

#include "os/unique_fd.h"
#include "process/spawner.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "sandbox/attempt.h"
#include "model/outcome.h"
#include "sandbox/worker_session.h"

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

namespace sandhost::sandbox {

class ForkServer {
public:
    // Launches a fork server for `plugin` and waits until it has loaded the plugin and run its
    // init hook, within settings.startup_timeout. Otherwise returns the outcome that stopped it
    // (load_failed with the plugin's message, spawn_failed, timed_out).
    // Throws HostError when the host is short of descriptors or processes. The spawner must
    // outlive the server.
    static std::variant<std::unique_ptr<ForkServer>, model::Outcome> start(process::Spawner& spawner, const WorkerConfig& config,
                                                                           const std::filesystem::path& plugin,
                                                                           const model::SandboxSettings& settings);
    // Asks the server to exit (its children with it), waits a second, then kills it; reaps it.
    ~ForkServer();
    ForkServer(const ForkServer&) = delete;
    ForkServer& operator=(const ForkServer&) = delete;

    // Forks a child for `spec` and returns the session to run it on, or why it could not (the
    // server is then dead() and must be replaced). The server keeps the child's lease
    // (spec.lease): the session passes renewals to it, and the server ends the child and
    // everything it started when one does not come in time. The job message goes out at once,
    // so the child can start on it while the server's answer is on its way. Thread-safe; blocks
    // for one round trip. Throws HostError when the host is short of descriptors. With a
    // `group`, the child enters it before it runs the job (the server writes its pid into the
    // group's cgroup.procs files, opened here and passed with the request).
    std::variant<WorkerSession, std::string> fork_session(const AttemptSpec& spec, const AttemptGroup* group = nullptr);

    // True once the server died or was found broken; reaps it if it died. Thread-safe, and
    // never waits for a fork in progress (that fork finds out for itself).
    bool dead();
    // How many fork_session() calls are under way or waiting for this server.
    int in_flight() const { return m_in_flight.load(std::memory_order_relaxed); }
    pid_t pid() const { return m_process->pid(); }

private:
    ForkServer() = default;
    // Reads until a frame arrives, the deadline passes or the server dies. Caller holds m_mutex.
    std::variant<protocol::Frame, std::string> next_frame(std::chrono::steady_clock::time_point deadline);
    void drain_diagnostics();

    process::Spawner* m_spawner = nullptr;
    WorkerConfig m_config;
    std::unique_ptr<WorkerProcess> m_process;
    os::UniqueFd m_channel;
    os::UniqueFd m_stdout;
    os::UniqueFd m_stderr;
    std::unique_ptr<protocol::FrameDecoder> m_decoder;
    // The host's end of the channel as the children's lease renewals reach it: a child's
    // session may outlive the server (it is replaced while its children run), so it holds this,
    // not the server. Every frame to the server is sent under its mutex, whole.
    struct Line {
        std::mutex mutex;
        int fd = -1;  // -1 once the server is gone
    };
    std::shared_ptr<Line> m_line = std::make_shared<Line>();
    std::string m_diagnostics;  // the tail of the server's own stderr
    protocol::Ready m_baseline; // the server's memory when ready: its children's too
    mutable std::mutex m_mutex;
    std::atomic<bool> m_dead{false};
    std::atomic<int> m_in_flight{0};
};

} // namespace sandhost::sandbox
