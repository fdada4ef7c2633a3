#include "config/loader.h"

#include <chrono>

namespace sandhost::config {
namespace {

using Kind = YamlNode::Kind;

const std::vector<std::string> k_sandbox_keys{"enabled", "mode",       "timeout",  "startup_timeout",     "grace",
                                              "limits",  "max_result", "fallback", "fallback_on_timeout", "reuse",
                                              "fork_servers"};
const std::vector<std::string> k_limits_keys{"memory", "cpu", "open_files", "file_size", "processes", "output", "output_action"};
// idle_timeout is not in the design's example, but sandbox::ReuseSettings has it and a value
// nobody can set is a value nobody can fix.
const std::vector<std::string> k_reuse_keys{"max_jobs_per_worker", "max_rss", "idle_timeout"};

} // namespace

void Loader::read_sandbox(const YamlNode& map, const std::string& path, model::SandboxSettings& out)
{
    Section fields = section(map, "in " + path, k_sandbox_keys);
    if (const auto* e = fields.get("enabled")) read_bool(*e, out.enabled);
    if (const auto* e = fields.get("mode")) read_enum(*e, model::k_mode_names, out.mode);
    if (const auto* e = fields.get("timeout")) read_duration(*e, model::Duration(1), out.timeout);
    if (const auto* e = fields.get("startup_timeout")) read_duration(*e, model::Duration(1), out.startup_timeout);
    if (const auto* e = fields.get("grace")) read_duration(*e, model::Duration(0), out.grace);
    if (const auto* e = fields.get("limits")) {
        if (const YamlNode* limits = mapping_value(*e)) {
            Section l = section(*limits, "in " + path + ".limits", k_limits_keys);
            // A worker does not start in less than a MiB of address space; CPU time is limited
            // in whole seconds by the OS.
            read_limit_size(l.get("memory"), 1 << 20, out.limits.memory_bytes);
            read_limit_duration(l.get("cpu"), std::chrono::seconds(1), out.limits.cpu);
            read_limit_count(l.get("open_files"), 1 << 20, out.limits.open_files);
            read_limit_size(l.get("file_size"), 0, out.limits.file_size_bytes);
            read_limit_count(l.get("processes"), 1 << 22, out.limits.processes);
            read_limit_size(l.get("output"), 0, out.limits.output_bytes);
            if (const auto* a = l.get("output_action")) read_enum(*a, model::k_output_action_names, out.limits.output_action);
        }
    }
    if (const auto* e = fields.get("max_result")) read_size(*e, 1, out.max_result_bytes);
    if (const auto* e = fields.get("fallback")) read_enum(*e, model::k_fallback_names, out.fallback);
    if (const auto* e = fields.get("fallback_on_timeout")) read_bool(*e, out.fallback_on_timeout);
    if (const auto* e = fields.get("fork_servers")) {
        if (e->value->kind == Kind::scalar && e->value->text == "auto") {
            out.fork_servers = 0;
        } else {
            read_count_as(*e, 1, 1024, out.fork_servers);
        }
    }
    if (const auto* e = fields.get("reuse")) {
        if (const YamlNode* reuse = mapping_value(*e)) {
            Section r = section(*reuse, "in " + path + ".reuse", k_reuse_keys);
            if (const auto* x = r.get("max_jobs_per_worker")) {
                read_count(*x, 1, 1'000'000'000, out.reuse.max_jobs_per_worker);
            }
            if (const auto* x = r.get("max_rss")) read_size(*x, 1 << 20, out.reuse.max_rss_bytes);
            if (const auto* x = r.get("idle_timeout")) read_duration(*x, model::Duration(1), out.reuse.idle_timeout);
        }
    }
}

} // namespace sandhost::config
