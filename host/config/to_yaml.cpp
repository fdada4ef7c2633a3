#include "config/to_yaml.h"

#include <charconv>

#include "config/variables.h"
#include "model/text.h"

namespace sandhost::config {
namespace {

// A YAML double-quoted scalar that loads back as `text`: JSON escapes are valid YAML escapes,
// and '$' is doubled because the loader expands variables in every value.
std::string quote(std::string_view text, bool is_value = true)
{
    return model::json_string(is_value ? escape_variables(text) : std::string(text));
}

std::string number(double value)
{
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    return ec == std::errc() ? std::string(buffer, end) : std::to_string(value);
}

// The payload's compact JSON as a YAML flow collection that loads back as the same JSON: a
// space after ':' and ',' (where YAML wants one) and '$' doubled in string values (not in keys,
// which the loader does not expand). Relies on the loader's canonical JSON: no spaces, no
// escaped quotes outside strings.
std::string payload_yaml(std::string_view json)
{
    std::string out;
    for (std::size_t i = 0; i < json.size(); ++i) {
        char c = json[i];
        if (c != '"') {
            out += c;
            if (c == ':' || c == ',') out += ' ';
            continue;
        }
        std::size_t end = i + 1;
        while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
        std::string_view literal = json.substr(i, end + 1 - i);
        bool is_key = end + 1 < json.size() && json[end + 1] == ':';
        out += is_key ? std::string(literal) : escape_variables(literal);
        i = end;
    }
    return out;
}

std::string limit_size(const std::optional<std::uint64_t>& bytes)
{
    return bytes ? model::format_size(*bytes) : "unlimited";
}

std::string limit_count(const std::optional<std::uint64_t>& count)
{
    return count ? std::to_string(*count) : "unlimited";
}

std::string limit_duration(const std::optional<model::Duration>& duration)
{
    return duration ? model::format_duration(*duration) : "unlimited";
}

std::string quoted_list(const std::vector<std::string>& items)
{
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + quote(items[i]);
    return out + "]";
}

void write_privileges(std::string& out, const model::Privileges& p, const std::string& indent)
{
    if (p.user) out += indent + "user: " + quote(*p.user) + "\n";
    else out += indent + "# user: not set, the host's user\n";
    if (p.group) out += indent + "group: " + quote(*p.group) + "\n";
    out += indent + "environment: {inherit: " + quoted_list(p.environment.inherit) + ", set: {";
    bool first = true;
    for (const auto& [name, value] : p.environment.set) {
        out += (first ? "" : ", ") + name + ": " + quote(value);
        first = false;
    }
    out += "}}\n";
    out += indent + "no_new_privileges: " + (p.no_new_privileges ? "true" : "false") + "\n";
    if (p.capabilities) out += indent + "capabilities: " + quoted_list(*p.capabilities) + "\n";
    else out += indent + "# capabilities: not set, the host's (none for another user)\n";
    out += indent + "network: " + model::name_in(model::k_network_names, p.network) + "\n";
    switch (p.syscalls.filter) {
    case model::SyscallFilter::default_list: out += indent + "syscalls: default\n"; break;
    case model::SyscallFilter::off: out += indent + "syscalls: off\n"; break;
    case model::SyscallFilter::custom:
        out += indent + "syscalls: {deny: " + quoted_list(p.syscalls.deny) + ", allow_only: " + quoted_list(p.syscalls.allow_only) + "}\n";
        break;
    }
    const auto& fs = p.filesystem;
    out += indent + "filesystem: {workdir: " + (fs.workdir ? quote(*fs.workdir) : std::string("null")) +
           ", read_only: " + (fs.read_only ? "true" : "false") + ", hide: " + quoted_list(fs.hide) + "}\n";
}

void write_sandbox(std::string& out, const model::SandboxSettings& s, const std::string& indent)
{
    const auto& l = s.limits;
    out += indent + "enabled: " + (s.enabled ? "true" : "false") + "\n";
    out += indent + "mode: " + model::to_string(s.mode) + "\n";
    out += indent + "timeout: " + model::format_duration(s.timeout) + "\n";
    out += indent + "startup_timeout: " + model::format_duration(s.startup_timeout) + "\n";
    out += indent + "grace: " + model::format_duration(s.grace) + "\n";
    out += indent + "limits: {memory: " + limit_size(l.memory_bytes) + ", cpu: " + limit_duration(l.cpu) +
           ", open_files: " + limit_count(l.open_files) + ", file_size: " + limit_size(l.file_size_bytes) +
           ", processes: " + limit_count(l.processes) + ", output: " + limit_size(l.output_bytes) +
           ", output_action: " + model::name_in(model::k_output_action_names, l.output_action) + "}\n";
    out += indent + "max_result: " + model::format_size(s.max_result_bytes) + "\n";
    out += indent + "fallback: " + model::to_string(s.fallback) + "\n";
    out += indent + "fallback_on_timeout: " + (s.fallback_on_timeout ? "true" : "false") + "\n";
    out += indent + "fork_servers: " + (s.fork_servers == 0 ? std::string("auto") : std::to_string(s.fork_servers)) + "\n";
    out += indent + "reuse: {max_jobs_per_worker: " + std::to_string(s.reuse.max_jobs_per_worker) +
           ", max_rss: " + model::format_size(s.reuse.max_rss_bytes) +
           ", idle_timeout: " + model::format_duration(s.reuse.idle_timeout) + "}\n";
    out += indent + "cgroup: " + model::to_string(s.cgroup) + "\n";
    write_privileges(out, s.privileges, indent);
}

// Every state spelled out, `{}` for one kept without limit, so that loading it back replaces
// whatever a default would give.
std::string retention_yaml(const model::Retention& retention)
{
    std::string out = "{";
    const char* separator = "";
    for (const auto state : {model::JobState::completed, model::JobState::dead, model::JobState::cancelled}) {
        const model::RetentionLimit& limit = *retention.limit(state);
        out += separator + std::string(model::to_string(state)) + ": {";
        if (limit.age) out += "age: " + model::format_duration(*limit.age);
        if (limit.count) out += std::string(limit.age ? ", " : "") + "count: " + std::to_string(*limit.count);
        out += "}";
        separator = ", ";
    }
    return out + "}";
}

// Comments end at the line's end: a file name holding a newline must not end one early.
std::string comment_text(const std::string& text)
{
    std::string out;
    for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
    return out;
}

} // namespace

std::string to_yaml(const Settings& settings)
{
    std::string out;
    out += "host:\n";
    out += "  name: " + quote(settings.host.name) + "\n";
    out += "  store: " + quote(to_string(settings.host.store)) + "\n";
    out += "  store_prefix: " + quote(settings.host.store_prefix) + "\n";
    out += "  store_page_size: " + model::format_size(settings.host.store_page_size) + "\n";
    out += std::string("  store_sync: ") + to_string(settings.host.store_sync) + "\n";
    out += "  lease: " + model::format_duration(settings.host.lease) + "\n";
    out += "  plugin_dirs: [";
    for (std::size_t i = 0; i < settings.host.plugin_dirs.size(); ++i) {
        out += (i > 0 ? ", " : "") + quote(settings.host.plugin_dirs[i].string());
    }
    out += "]\n";
    out += "  max_workers: " + std::to_string(settings.host.max_workers) + "\n";
    out += "  max_payload: " + model::format_size(settings.host.max_payload) + "\n";
    out += "  retention: " + retention_yaml(settings.host.retention) + "\n";
    out += std::string("  allow_insecure_plugins: ") + (settings.host.allow_insecure_plugins ? "true" : "false") + "\n";
    out += std::string("  log: {level: ") + to_string(settings.host.log.level) +
           ", format: " + to_string(settings.host.log.format) + "}\n";
    out += "sandbox:\n";
    write_sandbox(out, settings.sandbox, "  ");
    const ApiSettings& api = settings.api;
    out += "api:\n";
    if (api.listen) out += "  listen: " + quote(api.listen->to_string()) + "\n";
    else out += "  # listen: not set, the API is off\n";
    if (api.token_file) out += "  token_file: " + quote(api.token_file->string()) + "\n";
    else if (api.token) out += "  token: " + quote(*api.token) + "\n";
    if (api.tls) out += "  tls: {cert: " + quote(api.tls->cert.string()) + ", key: " + quote(api.tls->key.string()) + "}\n";
    out += "  max_body: " + model::format_size(api.max_body) + "\n";
    out += std::string("  metrics_auth: ") + (api.metrics_auth ? "true" : "false") + "\n";

    out += settings.queues.empty() ? "queues: {}\n" : "queues:\n";
    for (const auto& queue : settings.queues) {
        out += "  # defined at " + comment_text(queue.defined_at.to_string()) + "\n";
        out += "  " + quote(queue.name, false) + ":\n";
        out += "    tasks: [";
        for (std::size_t i = 0; i < queue.tasks.size(); ++i) {
            out += (i > 0 ? ", " : "") + quote(queue.tasks[i].to_string());
        }
        out += "]\n";
        out += "    concurrency: " + std::to_string(queue.concurrency) + "\n";
        if (queue.prefetch > 0) out += "    prefetch: " + std::to_string(queue.prefetch) + "\n";
        if (queue.global_concurrency) out += "    global_concurrency: " + std::to_string(*queue.global_concurrency) + "\n";
        if (queue.rate_limit) {
            out += "    rate_limit: {jobs: " + std::to_string(queue.rate_limit->jobs) +
                   ", per: " + model::format_duration(queue.rate_limit->per) + "}\n";
        }
        const Backoff& b = queue.retry.backoff;
        out += "    retry: {max_attempts: " + std::to_string(queue.retry.max_attempts) + ", backoff: {type: " +
               to_string(b.type) + ", delay: " + model::format_duration(b.delay) + ", factor: " + number(b.factor) +
               ", max: " + model::format_duration(b.max) + ", jitter: " + number(b.jitter) + "}}\n";
        if (queue.ttl) out += "    ttl: " + model::format_duration(*queue.ttl) + "\n";
        out += "    max_lost: " + std::to_string(queue.max_lost) + "\n";
        out += "    retention: " + retention_yaml(queue.retention) + "\n";
        out += "    sandbox:\n";
        write_sandbox(out, queue.sandbox, "      ");
    }

    out += settings.schedules.empty() ? "schedules: []\n" : "schedules:\n";
    for (const auto& schedule : settings.schedules) {
        out += "  # defined at " + comment_text(schedule.defined_at.to_string()) + "\n";
        out += "  - name: " + quote(schedule.name) + "\n";
        out += "    queue: " + quote(schedule.queue) + "\n";
        out += "    task: " + quote(schedule.task.to_string()) + "\n";
        out += "    payload: " + payload_yaml(schedule.payload_json) + "\n";
        if (const auto* every = std::get_if<Every>(&schedule.trigger)) {
            out += "    every: " + model::format_duration(every->interval) + "\n";
        } else {
            out += "    cron: " + quote(std::get<CronExpression>(schedule.trigger).text()) + "\n";
        }
    }
    return out;
}

} // namespace sandhost::config
