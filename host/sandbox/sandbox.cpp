#include "sandbox/sandbox.h"

#include "process/spawner.h"
#include "sandbox/inline_runner.h"
#include "sandbox/pools.h"
#include "sandbox/worker_locator.h"
#include "sandbox/worker_session.h"

#include <algorithm>
#include <cstdlib>
#include <spdlog/spdlog.h>
#include <system_error>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

model::Outcome spawn_failed(const os::SysError& error)
{
    model::Outcome o;
    o.kind = model::OutcomeKind::spawn_failed;
    o.error = "cannot start the worker: " + error.message();
    o.started_at = o.ended_at = std::chrono::system_clock::now();
    return o;
}

model::Outcome inline_fallback(const AttemptSpec& spec, AttemptObserver* observer, CancelToken* cancel, const model::Outcome& first)
{
    spdlog::warn("running {} in the host as a fallback after {}: {}", spec.task, to_string(first.kind), first.error);
    model::Outcome o = run_inline(spec, observer, cancel);
    o.fallback = "inline";
    return o;
}

} // namespace

WorkerConfig WorkerConfig::defaults()
{
    WorkerConfig config;
    config.launcher = process::Spawner::default_launcher();
    // Not found: the bare name, so that the first launch fails with a clear spawn_failed.
    config.executable = locate_worker().value_or("sandhost-worker");
    return config;
}

model::Outcome run_attempt(const AttemptSpec& spec, const WorkerConfig& worker, AttemptObserver* observer, CancelToken* cancel)
{
    if (!spec.settings.enabled) return run_inline(spec, observer, cancel);
    model::Outcome outcome = run_in_pool(spec, worker, observer, cancel);
    if (spec.settings.fallback == model::Fallback::inline_run) {
        if (outcome.kind == model::OutcomeKind::spawn_failed ||
            (outcome.kind == model::OutcomeKind::timed_out && spec.settings.fallback_on_timeout)) {
            return inline_fallback(spec, observer, cancel, outcome);
        }
    }
    return outcome;
}

std::optional<std::filesystem::path> resolve_plugin(const std::string& name_or_path, const std::vector<std::filesystem::path>& dirs)
{
    namespace fs = std::filesystem;
    if (name_or_path.find('/') != std::string::npos || fs::path(name_or_path).extension() == ".so") {
        return fs::absolute(name_or_path);
    }
    for (const auto& dir : dirs) {
        for (const std::string& file : {name_or_path + ".so", "lib" + name_or_path + ".so"}) {
            std::error_code ec;
            const fs::path candidate = dir / file;
            if (fs::is_regular_file(candidate, ec)) return fs::absolute(candidate);
        }
    }
    return std::nullopt;
}

model::PluginInfo describe_plugin(const std::filesystem::path& library, const WorkerConfig& worker)
{
    model::PluginInfo info;
    info.path = library;
    info.name = library.stem().string();
    if (info.name.rfind("lib", 0) == 0) info.name = info.name.substr(3);
    auto session = WorkerSession::start(worker, WorkerRole::spawn);
    if (!session) {
        info.error = spawn_failed(session.error()).error;
        return info;
    }
    model::SandboxSettings settings;
    settings.limits = model::Limits{};
    auto described = session->describe(library, settings);
    if (auto* outcome = std::get_if<model::Outcome>(&described)) {
        info.error = outcome->error.empty() ? std::string(to_string(outcome->kind)) : outcome->error;
        return info;
    }
    const auto& description = std::get<protocol::Description>(described);
    info.name = description.name;
    info.version = description.version;
    for (const auto& task : description.tasks) info.tasks.push_back(model::TaskInfo{task.name, task.description});
    return info;
}

model::PluginCatalog scan_plugins(const std::vector<std::filesystem::path>& dirs, const WorkerConfig& worker)
{
    namespace fs = std::filesystem;
    model::PluginCatalog catalog;
    catalog.dirs = dirs;
    for (const auto& dir : dirs) {
        std::error_code ec;
        std::vector<fs::path> libraries;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            if (entry.path().extension() == ".so" && entry.is_regular_file(ec)) libraries.push_back(entry.path());
        }
        std::sort(libraries.begin(), libraries.end());
        for (const auto& library : libraries) catalog.plugins.push_back(describe_plugin(library, worker));
    }
    std::stable_sort(catalog.plugins.begin(), catalog.plugins.end(), [](const model::PluginInfo& a, const model::PluginInfo& b) { return a.name < b.name; });
    return catalog;
}

} // namespace sandhost::sandbox
