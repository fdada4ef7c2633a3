// Helpers the integration tests share: where the build put things, a census of the processes
// a test left behind, and what the log said.
#pragma once

#include "sandbox/attempt.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sandhost::testing {

std::filesystem::path worker_executable();
std::filesystem::path poco_worker_executable();  // the worker that loads plugins with Poco::SharedLibrary
std::filesystem::path sandhost_executable();
std::filesystem::path plugin_dir();       // the project's plugins
std::filesystem::path fixture_plugin_dir();  // the tests' broken plugins
std::filesystem::path plugin(const std::string& name);  // plugin_dir()/NAME.so
// Why a test cannot run a worker as user nobody here (empty when it can): it needs root, the
// user, and a build that nobody can read (a checkout under /root is not).
std::string cannot_run_as_nobody();

sandbox::WorkerConfig worker_config(process::LauncherKind launcher);

// Processes this test process is responsible for that are still around: its children
// (zombies included; the test process is a subreaper, so every orphan of a worker lands
// here) and any process anywhere whose command line names this process as its host (a
// worker or a copy of one that escaped). Empty when the test cleaned up.
std::vector<std::string> leftover_processes();

// This process's open descriptors, each with what it points to ("7 -> pipe:[1234]"), for
// checks that an operation leaks none.
std::vector<std::string> open_descriptors();

// Waits until pred() holds, polling every few milliseconds, for at most `limit`.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = std::chrono::seconds(20));

// A command run to completion with its output captured.
struct CommandResult {
    int exit_code = -1;    // -1 when it died by a signal
    int signal_number = 0;
    std::string out;
    std::string err;
};
// Runs argv (argv[0] a path) with extra environment entries ("NAME=value"), feeding `input`
// on stdin. Blocks until it exits.
CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                          const std::string& input = {});

// The same, started in the background. The destructor kills (SIGKILL) and reaps it if wait()
// was not called.
class BackgroundCommand {
public:
    BackgroundCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}, std::string input = {});
    ~BackgroundCommand();
    BackgroundCommand(const BackgroundCommand&) = delete;
    BackgroundCommand& operator=(const BackgroundCommand&) = delete;
    pid_t pid() const { return m_pid; }
    // Reads its output to the end and reaps it.
    const CommandResult& wait();

private:
    pid_t m_pid = -1;
    int m_in = -1;
    int m_out = -1;
    int m_err = -1;
    std::string m_input;
    bool m_done = false;
    CommandResult m_result;
};

// Processes whose command line names `host` as their host (workers and their copies).
std::vector<pid_t> workers_of(pid_t host);

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return m_path; }
    std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

private:
    std::filesystem::path m_path;
};

// A file system of its own and of `size` (tmpfs's size=, "4m"), mounted on a new folder `at` and
// taken away with it, for tests of a full disk. Where this process may not mount (it is not
// root), mounted() is false and why() says so: such a test skips.
class SmallDisk {
public:
    SmallDisk(std::filesystem::path at, const std::string& size);
    ~SmallDisk();
    SmallDisk(const SmallDisk&) = delete;
    SmallDisk& operator=(const SmallDisk&) = delete;
    bool mounted() const { return m_mounted; }
    const std::string& why() const { return m_why; }

private:
    std::filesystem::path m_at;
    bool m_mounted = false;
    std::string m_why;
};

// Installs `library` at `path` as a deployment does: a new file renamed over the old one.
void install_library(const std::filesystem::path& library, const std::filesystem::path& path);

// What the default logger writes while it lives, for tests that check the log lines.
class LogCapture {
public:
    LogCapture() : m_sink(std::make_shared<spdlog::sinks::ostream_sink_mt>(m_text)) { spdlog::default_logger()->sinks().push_back(m_sink); }
    ~LogCapture()
    {
        auto& sinks = spdlog::default_logger()->sinks();
        sinks.erase(std::remove(sinks.begin(), sinks.end(), m_sink), sinks.end());
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;
    std::string text()
    {
        m_sink->flush();
        return m_text.str();
    }
    // How many lines hold `what`.
    std::size_t count(const std::string& what)
    {
        std::istringstream lines(text());
        std::size_t found = 0;
        for (std::string line; std::getline(lines, line);) found += line.find(what) != std::string::npos;
        return found;
    }

private:
    std::ostringstream m_text;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> m_sink;
};

} // namespace sandhost::testing
