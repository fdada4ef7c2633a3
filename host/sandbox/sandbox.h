// The sandbox's front door: run one attempt of a task as its settings say (isolation mode,
// fallback, no-sandbox), and find plugins by name.
#pragma once

#include "sandbox/attempt.h"
#include "model/outcome.h"
#include "model/plugin_catalog.h"
#include "sandbox/pools.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sandhost::sandbox {

// Runs one attempt and returns its outcome; never throws for anything the task or the worker
// does. Blocks until the attempt has ended and every process it started is reaped.
//   - sandbox.enabled: false runs the task in the host (isolation "none").
//   - mode spawn launches a fresh worker for the attempt; fork forks one from the plugin's fork
//     server; reuse takes an idle long-lived worker (see pools.h).
//   - fallback: inline runs the task in the host when the worker could not be started, and,
//     with fallback_on_timeout, once more after a timeout; such outcomes carry fallback "inline".
model::Outcome run_attempt(const AttemptSpec& spec, const WorkerConfig& worker, AttemptObserver* observer = nullptr,
                    CancelToken* cancel = nullptr);

// The library for a plugin given as a path (contains a '/' or ends in .so) or as a name
// looked up in dirs as NAME.so, then libNAME.so. nullopt when not found.
std::optional<std::filesystem::path> resolve_plugin(const std::string& name_or_path, const std::vector<std::filesystem::path>& dirs);

// Every *.so in dirs, each described by loading it in a worker (a broken one is listed with
// its error). Sorted by name.
model::PluginCatalog scan_plugins(const std::vector<std::filesystem::path>& dirs, const WorkerConfig& worker);

// Describes one library by loading it in a worker.
model::PluginInfo describe_plugin(const std::filesystem::path& library, const WorkerConfig& worker);

} // namespace sandhost::sandbox
