// Embedding sandhost in a C++ program (part of libsandhost-client.so, sandhost::client): run one
// attempt of a task in a sandbox, as `sandhost exec` does, or serve a configuration's queues, as
// `sandhost run` does, from inside the program.
//
//     sandhost::embed::Sandbox sandbox;
//     sandhost::embed::AttemptSettings settings;
//     settings.timeout = std::chrono::seconds(5);
//     settings.limits.memory_bytes = 256 << 20;
//     const auto attempt = sandbox.run_attempt("legacy_c", "checksum", R"({"data":"hi"})", settings);
//     if (attempt.succeeded()) std::cout << *attempt.result << "\n";
//     else std::cerr << attempt.outcome << ": " << attempt.error.value_or("") << "\n";
//
// Both need the worker executable, found beside the library (LIBDIR/sandhost/sandhost-worker,
// where `cmake --install` and the package put it) or named by $SANDHOST_WORKER. Failures of
// the configuration or the store throw sandhost::client::Error (client.hpp); nothing a task
// does throws: it ends as one of the outcomes.
#ifndef SANDHOST_EMBED_HPP
#define SANDHOST_EMBED_HPP

#include "client.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sandhost::embed {

// How the task's process comes to be (sandbox.mode), or none: in this process, for trusted code
// only (sandbox.enabled: false).
enum class Isolation { spawn, fork, reuse, none };

// The limits of sandbox.limits, with the same defaults; std::nullopt: no limit.
struct Limits {
    std::optional<std::uint64_t> memory_bytes = 512ull << 20;
    std::optional<std::chrono::milliseconds> cpu = std::chrono::seconds(60);
    std::optional<std::uint64_t> open_files = 256;
    std::optional<std::uint64_t> file_size_bytes = 64ull << 20;
    std::optional<std::uint64_t> processes = 64;
    std::optional<std::uint64_t> output_bytes = 1ull << 20;  // stdout and stderr kept; beyond it the attempt ends
};

struct AttemptSettings {
    Isolation isolation = Isolation::spawn;
    std::chrono::milliseconds timeout{30000};          // from the worker's ready
    std::chrono::milliseconds startup_timeout{5000};   // launch and plugin load
    std::chrono::milliseconds grace{2000};             // SIGTERM to SIGKILL
    Limits limits;
    std::uint64_t max_result_bytes = 64ull << 20;
    bool inline_fallback = false;  // run in this process when no worker can be started
    // Where a plugin given by name is looked for (NAME.so); empty: the plugins installed with
    // the library (LIBDIR/sandhost/plugins).
    std::vector<std::string> plugin_dirs;
};

// How one attempt ended: the fields of `sandhost exec --json`.
struct AttemptResult {
    std::string outcome;                 // succeeded, failed, timed_out, crashed, exited,
                                         // resource_limit, load_failed, protocol_error,
                                         // result_too_large, spawn_failed, cancelled
    std::optional<std::string> result;   // succeeded: the task's result (JSON text)
    std::optional<std::string> error;
    bool permanent = false;              // failed, and the task said retrying cannot help
    std::optional<int> signal_number;    // crashed
    std::optional<int> exit_code;        // exited
    std::optional<std::string> limit;    // resource_limit: memory, cpu, file_size, processes, output
    std::chrono::milliseconds duration{0};
    std::optional<std::int64_t> pid;
    std::string json;                    // the whole record, as `sandhost exec --json` prints it

    bool succeeded() const { return outcome == "succeeded"; }
};

// Cancels a running attempt from another thread (see Sandbox::run_attempt).
class Cancel {
public:
    Cancel();
    ~Cancel();
    Cancel(const Cancel&) = delete;
    Cancel& operator=(const Cancel&) = delete;
    void request() noexcept;  // any thread; the attempt ends as cancelled within a moment

private:
    friend class Sandbox;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Runs attempts. Owns what outlives one (the launch thread, fork servers, idle reuse workers)
// and ends all of it when destroyed: every process it started is stopped and reaped.
class Sandbox {
public:
    Sandbox();
    ~Sandbox();
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    // Runs `task` of `plugin` (a library path, or a name looked up in settings.plugin_dirs) once
    // with the JSON payload, and blocks until the attempt ended and every process it started is
    // reaped. Thread-safe: attempts may run at once from several threads.
    AttemptResult run_attempt(const std::string& plugin, const std::string& task, const std::string& payload = "{}",
                              const AttemptSettings& settings = {}, Cancel* cancel = nullptr);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// A host serving a configuration's queues inside this program.
class Host {
public:
    // Loads and checks the configuration (plugins included) and opens its store. Throws
    // client::Error (config, listing every error; store). Nothing runs until run().
    explicit Host(const std::string& config_file);
    // stop(), then waits for run() to return if it is still running in another thread.
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    // Serves until stop() and the drain (running attempts get `drain` to finish; then their
    // workers are stopped and their jobs run again later). Call once, from one thread. Logs to
    // stderr as the configuration's host.log says.
    void run(std::chrono::milliseconds drain = std::chrono::seconds(30));
    // Thread-safe; may be called before run().
    void stop();
    // Thread-safe: reads the configuration file again; new and changed queues apply to new
    // claims. Throws client::Error (config), and the running settings stay, when it is invalid.
    void reload();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace sandhost::embed

#endif // SANDHOST_EMBED_HPP
