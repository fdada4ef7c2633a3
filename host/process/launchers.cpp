#include "process/launcher.h"

#include "os/fd.h"

#include <Poco/Exception.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>

#include <csignal>
#include <cerrno>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

extern char** environ;

namespace sandhost::process {
namespace {

// Poco::Process::launch takes Poco::Pipe objects and gives the child their ends as stdin,
// stdout and stderr, closing every other descriptor in the child. We lay our own descriptors
// over the Pipes' ends (dup2 onto the same numbers), so the child receives the channel socket
// as stdin and our capture pipes as stdout and stderr. Poco closes those numbers in the parent
// after the fork, which closes only our duplicates.
//
// Poco traps this defeats elsewhere: its child inherits the launching thread's signal mask
// and ignored dispositions (the worker resets both); a failed exec is reported as an ordinary
// exit 72 (we check the executable first, and the supervisor treats a worker that dies before
// its first message as spawn_failed).
class PocoLauncher final : public Launcher {
public:
    os::Result<pid_t> launch(const LaunchRequest& request) override
    {
        if (::access(request.executable.c_str(), X_OK) != 0) return os::SysError::from_errno("execute", request.executable.string());
        try {
            Poco::Pipe in_pipe;
            Poco::Pipe out_pipe;
            Poco::Pipe err_pipe;
            if (::dup2(request.channel_fd, in_pipe.readHandle()) < 0) return os::SysError::from_errno("dup2", "channel");
            if (::dup2(request.stdout_fd, out_pipe.writeHandle()) < 0) return os::SysError::from_errno("dup2", "stdout");
            if (::dup2(request.stderr_fd, err_pipe.writeHandle()) < 0) return os::SysError::from_errno("dup2", "stderr");
            Poco::Process::Args args{"--channel-fd", "0"};
            args.insert(args.end(), request.args.begin(), request.args.end());
            // Poco adds variables to the host's environment but cannot take any away: the
            // worker removes every variable not named here.
            Poco::Process::Env env;
            if (request.environment) {
                std::string names;
                for (const auto& variable : *request.environment) {
                    const auto equals = variable.find('=');
                    env[variable.substr(0, equals)] = equals == std::string::npos ? std::string() : variable.substr(equals + 1);
                    names += (names.empty() ? "" : ",") + variable.substr(0, equals);
                }
                args.insert(args.end(), {"--environment-names", names});
            }
            Poco::ProcessHandle handle = Poco::Process::launch(request.executable.string(), args, std::string(), &in_pipe, &out_pipe, &err_pipe, env);
            return static_cast<pid_t>(handle.id());
        } catch (const Poco::SystemException& e) {
            return os::SysError{std::error_code(e.code() ? e.code() : EAGAIN, std::generic_category()), "Poco::Process::launch",
                                request.executable.string() + ": " + e.displayText()};
        } catch (const Poco::Exception& e) {
            return os::SysError{std::error_code(EIO, std::generic_category()), "Poco::Process::launch",
                                request.executable.string() + ": " + e.displayText()};
        }
    }
    LauncherKind kind() const override { return LauncherKind::poco; }
};

// posix_spawn: glibc starts the child with clone(CLONE_VM | CLONE_VFORK), so its cost does not
// grow with the host's resident memory, reports a failed exec as an errno, and sets the
// process group, signal mask and default dispositions atomically.
class PosixSpawnLauncher final : public Launcher {
public:
    os::Result<pid_t> launch(const LaunchRequest& request) override
    {
        constexpr int k_child_channel_fd = 3;
        // The dup2 actions run in order in the child: move every source above the targets
        // first so that no target overwrites a source still to be copied.
        os::UniqueFd channel = high_copy(request.channel_fd);
        os::UniqueFd out = high_copy(request.stdout_fd);
        os::UniqueFd err = high_copy(request.stderr_fd);
        if (!channel || !out || !err) return os::SysError::from_errno("fcntl(F_DUPFD_CLOEXEC)", "launch descriptors");

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, out.get(), 1);
        posix_spawn_file_actions_adddup2(&actions, err.get(), 2);
        posix_spawn_file_actions_adddup2(&actions, channel.get(), k_child_channel_fd);
        posix_spawn_file_actions_addclosefrom_np(&actions, k_child_channel_fd + 1);

        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        sigset_t empty;
        sigset_t all;
        sigemptyset(&empty);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attributes, &empty);
        posix_spawnattr_setsigdefault(&attributes, &all);
        posix_spawnattr_setpgroup(&attributes, 0);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

        // --signals-clean: the child starts with an empty mask and default dispositions (set
        // below), so the worker need not reset them again.
        std::vector<std::string> argv_storage{request.executable.string(), "--channel-fd", std::to_string(k_child_channel_fd),
                                              "--signals-clean", "1"};
        argv_storage.insert(argv_storage.end(), request.args.begin(), request.args.end());
        std::vector<char*> argv;
        for (auto& arg : argv_storage) argv.push_back(arg.data());
        argv.push_back(nullptr);

        std::vector<char*> envp;
        std::vector<std::string> environment_storage;
        if (request.environment) {
            environment_storage = *request.environment;
            for (auto& variable : environment_storage) envp.push_back(variable.data());
            envp.push_back(nullptr);
        }

        pid_t pid = -1;
        const int rc = ::posix_spawn(&pid, request.executable.c_str(), &actions, &attributes, argv.data(),
                                     request.environment ? envp.data() : environ);
        posix_spawnattr_destroy(&attributes);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) return os::SysError::from_code(rc, "posix_spawn", request.executable.string());
        return pid;
    }
    LauncherKind kind() const override { return LauncherKind::posix_spawn; }

private:
    // A copy numbered 10 or more. A descriptor limit of 10 or less makes fcntl say EINVAL: the
    // host is out of descriptors, and says EMFILE as any other call would.
    static os::UniqueFd high_copy(int fd)
    {
        const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
        if (copy < 0 && errno == EINVAL) errno = EMFILE;
        return os::UniqueFd(copy);
    }
};

} // namespace

std::unique_ptr<Launcher> make_launcher(LauncherKind kind)
{
    if (kind == LauncherKind::posix_spawn) return std::make_unique<PosixSpawnLauncher>();
    return std::make_unique<PocoLauncher>();
}

const char* to_string(LauncherKind kind)
{
    return kind == LauncherKind::posix_spawn ? "posix_spawn" : "poco";
}

} // namespace sandhost::process
