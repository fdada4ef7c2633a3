#include "sandbox/worker_launch.h"

#include "os/fd.h"

#include <algorithm>
#include <unistd.h>

namespace sandhost::sandbox {

const char* to_string(WorkerRole role)
{
    switch (role) {
    case WorkerRole::spawn: return "spawn";
    case WorkerRole::reuse: return "reuse";
    case WorkerRole::fork_server: return "fork-server";
    }
    return "spawn";
}

namespace {

// A fork server's children would each bind, on first call, the C library's functions the
// server never called itself: lookups, and copies of the pages they write, in every child.
// Bound as the server starts instead, once; the worker drops the variable again before any
// task runs, unless the queue's environment named it itself.
void bind_now(process::LaunchRequest& request)
{
    if (!request.environment) return;  // unset: the worker starts with the host's, as it is
    auto& environment = *request.environment;
    const bool named = std::any_of(environment.begin(), environment.end(),
                                   [](const std::string& entry) { return entry.starts_with("LD_BIND_NOW="); });
    if (named) return;
    environment.push_back("LD_BIND_NOW=1");
    request.args.insert(request.args.end(), {"--bound-now", "1"});
}

} // namespace

os::Result<LaunchedWorker> launch_worker(process::Spawner& spawner, const WorkerConfig& config, WorkerRole role,
                                         const model::Privileges& privileges, const JobIdentity* job)
{
    auto grant = grant_for(privileges, job, config.attempts_root);
    if (!grant) return grant.error();
    auto channel = os::make_socket_pair();
    if (!channel) return channel.error();
    auto out = os::make_output_pipe();
    if (!out) return out.error();
    auto err = os::make_output_pipe();
    if (!err) return err.error();

    process::LaunchRequest request;
    request.executable = config.executable;
    request.args = {"--host-pid", std::to_string(::getpid()), "--role", to_string(role)};
    request.args.insert(request.args.end(), grant->args.begin(), grant->args.end());
    request.environment = std::move(grant->environment);
    if (role == WorkerRole::fork_server) bind_now(request);
    request.channel_fd = channel->second.get();
    request.stdout_fd = out->write.get();
    request.stderr_fd = err->write.get();
    auto child = spawner.launch(request, config.launcher);
    if (!child) return child.error();
    // The child holds its own ends now; ours close when the requests' owners go out of scope.
    return LaunchedWorker{std::move(child.value()), std::move(channel->first), std::move(out->read), std::move(err->read)};
}

} // namespace sandhost::sandbox
