#include "test_support.h"

#include "os/fd.h"
#include "os/proc.h"
#include "process/spawner.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <csignal>
#include <cstdlib>
#include <poll.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace sandhost::testing {

std::filesystem::path worker_executable() { return SANDHOST_TEST_WORKER; }
std::filesystem::path poco_worker_executable() { return SANDHOST_TEST_POCO_WORKER; }
std::filesystem::path sandhost_executable() { return SANDHOST_TEST_SANDHOST; }
std::filesystem::path plugin_dir() { return SANDHOST_TEST_PLUGIN_DIR; }
std::filesystem::path fixture_plugin_dir() { return SANDHOST_TEST_FIXTURE_PLUGIN_DIR; }

SmallDisk::SmallDisk(std::filesystem::path at, const std::string& size) : m_at(std::move(at))
{
    std::filesystem::create_directories(m_at);
    m_mounted = ::mount("tmpfs", m_at.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    if (!m_mounted) m_why = std::string("cannot mount a tmpfs (") + std::strerror(errno) + "): needs root with CAP_SYS_ADMIN";
}

SmallDisk::~SmallDisk()
{
    if (m_mounted) ::umount2(m_at.c_str(), MNT_DETACH);
}

void install_library(const std::filesystem::path& library, const std::filesystem::path& path)
{
    // Not named *.so while it is written: a host looking at the folder does not list it.
    const auto staged = path.parent_path() / ("." + path.filename().string() + ".new");
    std::filesystem::copy_file(library, staged, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(staged, path);
}

std::filesystem::path plugin(const std::string& name) { return plugin_dir() / (name + ".so"); }

sandbox::WorkerConfig worker_config(process::LauncherKind launcher)
{
    sandbox::WorkerConfig config;
    config.executable = worker_executable();
    config.launcher = launcher;
    return config;
}

std::vector<std::string> leftover_processes()
{
    std::vector<std::string> found;
    const pid_t self = ::getpid();
    for (pid_t child : os::children_of(self)) {
        found.push_back("child " + std::to_string(child) + " state " + std::string(1, os::process_state(child).value_or('?')) +
                        ": " + os::read_cmdline(child));
    }
    const std::string marker = "--host-pid " + std::to_string(self) + " ";
    for (pid_t pid : os::all_processes()) {
        if (pid == self) continue;
        const std::string cmdline = os::read_cmdline(pid) + " ";
        if (cmdline.find(marker) != std::string::npos && os::parent_of(pid) != self) {
            found.push_back("escaped " + std::to_string(pid) + ": " + cmdline);
        }
    }
    return found;
}

std::vector<pid_t> workers_of(pid_t host)
{
    std::vector<pid_t> found;
    const std::string marker = "--host-pid " + std::to_string(host) + " ";
    for (pid_t pid : os::all_processes()) {
        const auto state = os::process_state(pid);
        if (state && *state != 'Z' && (os::read_cmdline(pid) + " ").find(marker) != std::string::npos) found.push_back(pid);
    }
    return found;
}

std::vector<std::string> open_descriptors()
{
    std::vector<std::string> found;
    for (int fd : os::open_descriptors()) {
        std::error_code ec;
        const auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
        found.push_back(std::to_string(fd) + " -> " + (ec ? std::string("?") : target.string()));
    }
    return found;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit)
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
}

BackgroundCommand::BackgroundCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env, std::string input)
    : m_input(std::move(input))
{
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) std::abort();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<std::string> environment;
    for (char** e = environ; *e; ++e) environment.emplace_back(*e);
    environment.insert(environment.end(), env.begin(), env.end());
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const auto& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const int rc = ::posix_spawn(&m_pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    m_in = in[1];
    m_out = out[0];
    m_err = err[0];
    if (rc != 0) {
        m_pid = -1;
        m_result.err = "posix_spawn failed: " + std::to_string(rc);
    }
    if (m_input.empty()) {
        ::close(m_in);
        m_in = -1;
    }
}

BackgroundCommand::~BackgroundCommand()
{
    if (m_pid > 0 && !m_done) {
        ::kill(m_pid, SIGKILL);
        wait();
    }
}

const CommandResult& BackgroundCommand::wait()
{
    if (m_done) return m_result;
    m_done = true;
    std::size_t written = 0;
    while (m_out >= 0 || m_err >= 0) {
        pollfd fds[3] = {{m_out, POLLIN, 0}, {m_err, POLLIN, 0}, {m_in, POLLOUT, 0}};
        if (::poll(fds, 3, -1) < 0 && errno != EINTR) break;
        char buffer[65536];
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !fds[i].revents) continue;
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n > 0) {
                (i == 0 ? m_result.out : m_result.err).append(buffer, static_cast<size_t>(n));
            } else {
                ::close(fds[i].fd);
                (i == 0 ? m_out : m_err) = -1;
            }
        }
        if (m_in >= 0 && fds[2].revents) {
            const ssize_t n = ::write(m_in, m_input.data() + written, m_input.size() - written);
            if (n > 0) written += static_cast<size_t>(n);
            if (n <= 0 || written == m_input.size()) {
                ::close(m_in);
                m_in = -1;
            }
        }
    }
    if (m_in >= 0) ::close(m_in);
    if (m_pid <= 0) return m_result;
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) m_result.exit_code = WEXITSTATUS(status);
    else m_result.signal_number = WTERMSIG(status);
    return m_result;
}

CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& input)
{
    BackgroundCommand command(argv, env, input);
    return command.wait();
}

TempDir::TempDir()
{
    std::string pattern = (std::filesystem::temp_directory_path() / "sandhost-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) std::abort();
    m_path = pattern;
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
}

std::string cannot_run_as_nobody()
{
    if (::geteuid() != 0) return "switching to nobody needs root";
    const passwd* nobody = ::getpwnam("nobody");
    if (!nobody) return "this machine has no user nobody";
    // The worker loads the test's plugins as nobody: every folder above them must let it in.
    const std::vector<std::filesystem::path> needed = {fixture_plugin_dir() / "privileges.so", plugin_dir(), worker_executable()};
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) ::_exit(2);
        for (const auto& path : needed) {
            if (::access(path.c_str(), R_OK) != 0) ::_exit(1);
        }
        ::_exit(0);
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child) return "cannot fork to look as nobody";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    return "user nobody cannot read the build (" + fixture_plugin_dir().string() + "): a checkout under a private folder such as /root";
}

} // namespace sandhost::testing
