#include "config/load.h"

#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <system_error>

#include "config/suggest.h"
#include "config/yaml_tree.h"
#include "model/text.h"

namespace sandhost::config {
namespace {

using Kind = YamlNode::Kind;

const std::vector<std::string> k_top_keys{"host", "sandbox", "queues", "schedules", "include"};
const std::vector<std::string> k_host_keys{"name", "store", "plugin_dirs", "max_workers", "log"};
const std::vector<std::string> k_log_keys{"level", "format"};
const std::vector<std::string> k_sandbox_keys{"enabled", "mode",       "timeout",  "startup_timeout",     "grace",
                                              "limits",  "max_result", "fallback", "fallback_on_timeout", "reuse",
                                              "fork_servers"};
const std::vector<std::string> k_limits_keys{"memory", "cpu", "open_files", "file_size", "processes", "output"};
// idle_timeout is not in the design's example, but sandbox::ReuseSettings has it and a value
// nobody can set is a value nobody can fix.
const std::vector<std::string> k_reuse_keys{"max_jobs_per_worker", "max_rss", "idle_timeout"};
const std::vector<std::string> k_queue_keys{"tasks", "concurrency", "rate_limit", "retry",
                                            "ttl",   "max_lost",    "sandbox"};
const std::vector<std::string> k_rate_limit_keys{"jobs", "per"};
const std::vector<std::string> k_retry_keys{"max_attempts", "backoff"};
const std::vector<std::string> k_backoff_keys{"type", "delay", "factor", "max", "jitter"};
const std::vector<std::string> k_schedule_keys{"name", "queue", "task", "payload", "cron", "every"};

constexpr std::string_view k_unlimited = "unlimited";
constexpr std::size_t k_max_payload_bytes = 1 << 20;

using model::EnumName;
constexpr EnumName<LogLevel> k_log_levels[] = {{"trace", LogLevel::trace},
                                               {"debug", LogLevel::debug},
                                               {"info", LogLevel::info},
                                               {"warn", LogLevel::warn},
                                               {"error", LogLevel::error}};
constexpr EnumName<LogFormat> k_log_formats[] = {{"text", LogFormat::text}, {"json", LogFormat::json}};
constexpr EnumName<BackoffType> k_backoff_types[] = {{"fixed", BackoffType::fixed},
                                                     {"exponential", BackoffType::exponential}};

std::string in_quotes(std::string_view text)
{
    return "\"" + std::string(text) + "\"";
}

bool is_name(std::string_view text)
{
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

bool has_glob_magic(std::string_view text)
{
    return text.find_first_of("*?[") != std::string_view::npos;
}

std::string machine_hostname()
{
    char buffer[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
    return buffer;
}

// JSON's number grammar: the only plain scalars that become JSON numbers (verbatim).
bool is_json_number(std::string_view text)
{
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
        return i - start;
    };
    if (i < text.size() && text[i] == '-') ++i;
    if (i < text.size() && text[i] == '0') {
        ++i;
    } else if (digits() == 0) {
        return false;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        if (digits() == 0) return false;
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
        if (digits() == 0) return false;
    }
    return i == text.size();
}

// The YAML 1.2 core schema's spellings, for plain scalars whose text came from a variable.
bool is_yaml_null(std::string_view text)
{
    return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

std::optional<bool> yaml_bool(std::string_view text)
{
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    return std::nullopt;
}

struct PatternUse {
    TaskPattern pattern;
    SourceLocation at;
};

struct ScheduleDraft {
    ScheduleSettings settings;
    bool has_queue = false;
    bool has_task = false;
    SourceLocation queue_at;
    SourceLocation task_at;
};

class Loader {
public:
    explicit Loader(const LoadOptions& options) : m_options(options) {}

    LoadResult load(const std::filesystem::path& file, const std::string_view* text);

private:
    // A mapping whose unknown keys have been reported.
    struct Section {
        const YamlNode* node = nullptr;
        const YamlEntry* get(std::string_view key) const { return node != nullptr ? node->find(key) : nullptr; }
    };

    SourceLocation where(const YamlNode& node) const { return {m_file, node.line, node.column}; }
    void report(const YamlNode& node, std::string message) { report(where(node), std::move(message)); }
    void report(const SourceLocation& at, std::string message)
    {
        m_errors.push_back(ConfigError{at.file, at.line, at.column, std::move(message)});
    }

    std::optional<std::string> read_file(const std::filesystem::path& path, const SourceLocation* from,
                                         std::string_view pattern);
    void enter_file(const std::filesystem::path& file);

    Section section(const YamlNode& map, const std::string& context, const std::vector<std::string>& known);
    const YamlNode* mapping_value(const YamlEntry& entry);
    const YamlNode* sequence_value(const YamlEntry& entry);
    std::optional<std::string> scalar(const YamlEntry& entry, std::string_view expected);
    std::optional<std::string> expand(const YamlNode& node, std::string_view key);

    bool read_string(const YamlEntry& entry, std::string& out);
    bool read_bool(const YamlEntry& entry, bool& out);
    bool read_count(const YamlEntry& entry, std::uint64_t min, std::uint64_t max, std::uint64_t& out);
    template <class T>
    bool read_count_as(const YamlEntry& entry, std::uint64_t min, std::uint64_t max, T& out);
    bool read_number(const YamlEntry& entry, double min, double max, double& out);
    bool read_duration(const YamlEntry& entry, model::Duration min, model::Duration& out);
    bool read_size(const YamlEntry& entry, std::uint64_t min, std::uint64_t& out);
    template <class T, std::size_t n>
    bool read_enum(const YamlEntry& entry, const EnumName<T> (&names)[n], T& out);
    // Limits take "unlimited" too.
    bool is_unlimited(const YamlEntry& entry);
    void read_limit_size(const YamlEntry* entry, std::uint64_t min, std::optional<std::uint64_t>& out);
    void read_limit_count(const YamlEntry* entry, std::uint64_t max, std::optional<std::uint64_t>& out);
    void read_limit_duration(const YamlEntry* entry, model::Duration min, std::optional<model::Duration>& out);

    void read_host(const YamlEntry* entry);
    void read_sandbox(const YamlNode& map, const std::string& path, model::SandboxSettings& out);
    void read_queues(const YamlEntry& entry);
    void read_queue(const YamlEntry& entry);
    void read_retry(const YamlNode& map, const std::string& path, RetryPolicy& out);
    void read_schedules(const YamlEntry& entry);
    void read_schedule(const YamlNode& map, std::size_t index);
    bool to_json(const YamlNode& node, std::string& out);
    void read_includes(const YamlEntry& entry);
    void load_included(const std::filesystem::path& path, const SourceLocation& from, std::string_view pattern);
    void read_file_body(const YamlNode& root, bool included);

    void check_tasks();
    void check_task(const model::PluginCatalog& catalog, const std::string& plugin, const std::string& task,
                    const std::string& text, const SourceLocation& at);
    void check_schedules();
    LoadResult finish();

    const LoadOptions& m_options;
    std::filesystem::path m_file;  // the file being read, as named in errors
    std::filesystem::path m_dir;   // its directory, absolute: relative paths in it resolve here
    std::vector<ConfigError> m_errors;
    std::vector<std::filesystem::path> m_files;  // in load order, for sorting errors
    std::map<std::filesystem::path, std::filesystem::path> m_loaded;  // canonical -> as named

    Settings m_settings;
    std::optional<SourceLocation> m_plugin_dirs_at;
    std::map<std::string, QueueSettings> m_queues;
    std::vector<PatternUse> m_patterns;
    std::vector<ScheduleDraft> m_schedules;
    std::map<std::string, SourceLocation> m_schedule_names;
};

std::optional<std::string> Loader::read_file(const std::filesystem::path& path, const SourceLocation* from,
                                             std::string_view pattern)
{
    auto fail = [&](const std::string& why) {
        if (from != nullptr) {
            report(*from, "include " + in_quotes(pattern) + ": cannot read " + path.string() + ": " + why);
        } else {
            m_errors.push_back(ConfigError{path, 0, 0, "cannot read: " + why});
        }
        return std::nullopt;
    };
    struct Close {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, Close> stream(std::fopen(path.c_str(), "rb"));
    if (!stream) return fail(std::error_code(errno, std::generic_category()).message());
    std::string text;
    char buffer[8192];
    while (true) {
        std::size_t n = std::fread(buffer, 1, sizeof buffer, stream.get());
        text.append(buffer, n);
        if (text.size() > k_max_config_bytes) {
            return fail("larger than " + std::to_string(k_max_config_bytes >> 20) + " MiB");
        }
        if (n < sizeof buffer) {
            if (std::ferror(stream.get()) != 0) return fail(std::error_code(errno, std::generic_category()).message());
            break;
        }
    }
    return text;
}

void Loader::enter_file(const std::filesystem::path& file)
{
    m_file = file;
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(file, ec);
    m_dir = (ec ? file : absolute).parent_path().lexically_normal();
    m_files.push_back(file);
}

Loader::Section Loader::section(const YamlNode& map, const std::string& context, const std::vector<std::string>& known)
{
    for (const auto& entry : map.entries) {
        const YamlNode& key = *entry.key;
        if (key.kind != Kind::scalar) {
            report(key, "keys must be strings, got " + describe(key) + " " + context);
            continue;
        }
        if (std::find(known.begin(), known.end(), key.text) != known.end()) continue;
        if (key.text == "<<") {
            report(key, "merge keys (\"<<\") are not supported " + context + "; write the keys out");
            continue;
        }
        std::string message = "unknown key " + in_quotes(key.text) + " " + context;
        if (auto suggestion = closest_match(key.text, known)) {
            message += "; did you mean " + in_quotes(*suggestion) + "?";
        } else {
            message += " (expected " + join(known) + ")";
        }
        report(key, std::move(message));
    }
    return Section{&map};
}

const YamlNode* Loader::mapping_value(const YamlEntry& entry)
{
    const YamlNode& value = *entry.value;
    if (value.kind == Kind::mapping) return &value;
    // An empty section ("sandbox:" with everything below commented out) changes nothing.
    if (value.kind == Kind::null) return nullptr;
    report(value, entry.key->text + ": expected a mapping, got " + describe(value));
    return nullptr;
}

const YamlNode* Loader::sequence_value(const YamlEntry& entry)
{
    const YamlNode& value = *entry.value;
    if (value.kind == Kind::sequence) return &value;
    if (value.kind == Kind::null) return nullptr;
    report(value, entry.key->text + ": expected a sequence, got " + describe(value));
    return nullptr;
}

std::optional<std::string> Loader::expand(const YamlNode& node, std::string_view key)
{
    auto expanded = expand_variables(node.text, m_options.env);
    if (!expanded) {
        report(node, std::string(key) + ": " + expanded.error());
        return std::nullopt;
    }
    return std::move(expanded).value();
}

std::optional<std::string> Loader::scalar(const YamlEntry& entry, std::string_view expected)
{
    const YamlNode& value = *entry.value;
    const std::string& key = entry.key->text;
    if (value.kind == Kind::null) {
        report(*entry.key, key + ": missing value (expected " + std::string(expected) + ")");
        return std::nullopt;
    }
    if (value.kind != Kind::scalar) {
        report(value, key + ": expected " + std::string(expected) + ", got " + describe(value));
        return std::nullopt;
    }
    return expand(value, key);
}

bool Loader::read_string(const YamlEntry& entry, std::string& out)
{
    auto text = scalar(entry, "a string");
    if (!text) return false;
    if (text->empty()) {
        report(*entry.value, entry.key->text + ": must not be empty");
        return false;
    }
    out = *text;
    return true;
}

bool Loader::read_bool(const YamlEntry& entry, bool& out)
{
    auto text = scalar(entry, "true or false");
    if (!text) return false;
    auto value = yaml_bool(*text);
    if (!value) {
        report(*entry.value, entry.key->text + ": expected true or false, got " + in_quotes(*text));
        return false;
    }
    out = *value;
    return true;
}

bool Loader::read_count(const YamlEntry& entry, std::uint64_t min, std::uint64_t max, std::uint64_t& out)
{
    auto text = scalar(entry, "an integer");
    if (!text) return false;
    const std::string& key = entry.key->text;
    std::string_view digits = *text;
    bool negative = digits.starts_with('-');
    if (negative) digits.remove_prefix(1);
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
        return c >= '0' && c <= '9';
    });
    if (!all_digits || end != digits.data() + digits.size()) {
        report(*entry.value, key + ": expected an integer, got " + in_quotes(*text));
        return false;
    }
    if (negative || ec != std::errc() || value < min || value > max) {
        report(*entry.value, key + ": must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                                 in_quotes(*text));
        return false;
    }
    out = value;
    return true;
}

template <class T>
bool Loader::read_count_as(const YamlEntry& entry, std::uint64_t min, std::uint64_t max, T& out)
{
    std::uint64_t value = 0;
    if (!read_count(entry, min, max, value)) return false;
    out = static_cast<T>(value);
    return true;
}

bool Loader::read_number(const YamlEntry& entry, double min, double max, double& out)
{
    auto text = scalar(entry, "a number");
    if (!text) return false;
    double value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || text->empty() || !std::isfinite(value)) {
        report(*entry.value, entry.key->text + ": expected a number, got " + in_quotes(*text));
        return false;
    }
    if (value < min || value > max) {
        char bounds[64];
        std::snprintf(bounds, sizeof bounds, "from %g to %g", min, max);
        report(*entry.value, entry.key->text + ": must be " + bounds + ", got " + in_quotes(*text));
        return false;
    }
    out = value;
    return true;
}

bool Loader::read_duration(const YamlEntry& entry, model::Duration min, model::Duration& out)
{
    auto text = scalar(entry, "a duration");
    if (!text) return false;
    auto duration = model::parse_duration(*text);
    if (!duration) {
        report(*entry.value, entry.key->text + ": " + duration.error());
        return false;
    }
    if (duration.value() < min) {
        report(*entry.value, entry.key->text + ": must be at least " + model::format_duration(min) + ", got " + in_quotes(*text));
        return false;
    }
    out = duration.value();
    return true;
}

bool Loader::read_size(const YamlEntry& entry, std::uint64_t min, std::uint64_t& out)
{
    auto text = scalar(entry, "a size");
    if (!text) return false;
    auto size = model::parse_size(*text);
    if (!size) {
        report(*entry.value, entry.key->text + ": " + size.error());
        return false;
    }
    if (size.value() < min) {
        report(*entry.value, entry.key->text + ": must be at least " + model::format_size(min) + ", got " + in_quotes(*text));
        return false;
    }
    out = size.value();
    return true;
}

template <class T, std::size_t n>
bool Loader::read_enum(const YamlEntry& entry, const EnumName<T> (&names)[n], T& out)
{
    std::vector<std::string> spellings;
    for (const auto& name : names) spellings.emplace_back(name.name);
    auto text = scalar(entry, "one of " + join(spellings));
    if (!text) return false;
    for (const auto& name : names) {
        if (name.name == *text) {
            out = name.value;
            return true;
        }
    }
    std::string message = entry.key->text + ": " + in_quotes(*text) + " is not one of " + join(spellings);
    if (auto suggestion = closest_match(*text, spellings)) message += "; did you mean " + in_quotes(*suggestion) + "?";
    report(*entry.value, std::move(message));
    return false;
}

bool Loader::is_unlimited(const YamlEntry& entry)
{
    return entry.value->kind == Kind::scalar && entry.value->text == k_unlimited;
}

void Loader::read_limit_size(const YamlEntry* entry, std::uint64_t min, std::optional<std::uint64_t>& out)
{
    if (entry == nullptr) return;
    if (is_unlimited(*entry)) {
        out.reset();
        return;
    }
    std::uint64_t value = 0;
    if (read_size(*entry, min, value)) out = value;
}

void Loader::read_limit_count(const YamlEntry* entry, std::uint64_t max, std::optional<std::uint64_t>& out)
{
    if (entry == nullptr) return;
    if (is_unlimited(*entry)) {
        out.reset();
        return;
    }
    std::uint64_t value = 0;
    if (read_count(*entry, 1, max, value)) out = value;
}

void Loader::read_limit_duration(const YamlEntry* entry, model::Duration min, std::optional<model::Duration>& out)
{
    if (entry == nullptr) return;
    if (is_unlimited(*entry)) {
        out.reset();
        return;
    }
    model::Duration value{};
    if (read_duration(*entry, min, value)) out = value;
}

void Loader::read_host(const YamlEntry* entry)
{
    HostSettings& host = m_settings.host;
    host.store = SqliteStore{(m_dir / "sandhost.db").lexically_normal()};
    const YamlNode* map = entry != nullptr ? mapping_value(*entry) : nullptr;
    Section fields = map != nullptr ? section(*map, "in host", k_host_keys) : Section{};

    if (const auto* e = fields.get("name")) {
        read_string(*e, host.name);
    }
    if (host.name.empty()) host.name = machine_hostname();
    if (const auto* e = fields.get("store")) {
        if (auto text = scalar(*e, "a store URL")) {
            auto store = parse_store_url(*text, m_dir);
            if (store) {
                host.store = store.value();
            } else {
                report(*e->value, store.error());
            }
        }
    }
    if (const auto* e = fields.get("plugin_dirs")) {
        m_plugin_dirs_at = where(*e->key);
        if (const YamlNode* list = sequence_value(*e)) {
            for (const auto& item : list->items) {
                if (item->kind != Kind::scalar) {
                    report(*item, "plugin_dirs: expected a directory, got " + describe(*item));
                    continue;
                }
                auto text = expand(*item, "plugin_dirs");
                if (!text) continue;
                if (text->empty()) {
                    report(*item, "plugin_dirs: a directory must not be empty");
                    continue;
                }
                std::filesystem::path dir(*text);
                if (dir.is_relative()) dir = m_dir / dir;
                host.plugin_dirs.push_back(dir.lexically_normal());
            }
        }
    }
    if (const auto* e = fields.get("max_workers")) read_count_as(*e, 1, 4096, host.max_workers);
    if (const auto* e = fields.get("log")) {
        if (const YamlNode* log = mapping_value(*e)) {
            Section log_fields = section(*log, "in host.log", k_log_keys);
            if (const auto* l = log_fields.get("level")) read_enum(*l, k_log_levels, host.log.level);
            if (const auto* f = log_fields.get("format")) read_enum(*f, k_log_formats, host.log.format);
        }
    }
}

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

void Loader::read_queues(const YamlEntry& entry)
{
    const YamlNode* map = mapping_value(entry);
    if (map == nullptr) return;
    for (const auto& queue : map->entries) {
        if (queue.key->kind != Kind::scalar) {
            report(*queue.key, "queue names must be strings, got " + describe(*queue.key));
            continue;
        }
        read_queue(queue);
    }
}

void Loader::read_queue(const YamlEntry& entry)
{
    QueueSettings queue;
    queue.name = entry.key->text;
    queue.defined_at = where(*entry.key);
    queue.sandbox = m_settings.sandbox;
    const std::string path = "queues." + queue.name;
    if (!is_name(queue.name)) {
        report(*entry.key, "queue name " + in_quotes(queue.name) + " may only contain letters, digits, '_' and '-'");
    }
    // A second definition is still read: its own mistakes are worth reporting in the same pass.
    bool duplicate = false;
    if (auto first = m_queues.find(queue.name); first != m_queues.end()) {
        report(*entry.key, "queue " + in_quotes(queue.name) + " is defined twice (first at " +
                               first->second.defined_at.to_string() + ")");
        duplicate = true;
    }

    const YamlNode* map = nullptr;
    if (entry.value->kind == Kind::mapping) {
        map = entry.value.get();
    } else if (entry.value->kind == Kind::null) {
        report(*entry.key, "queue " + in_quotes(queue.name) + " has no settings (it needs at least tasks:)");
    } else {
        report(*entry.value, "queue " + in_quotes(queue.name) + ": expected a mapping, got " + describe(*entry.value));
    }
    Section fields = map != nullptr ? section(*map, "in " + path, k_queue_keys) : Section{};

    if (const auto* e = fields.get("tasks")) {
        if (const YamlNode* list = sequence_value(*e)) {
            if (list->items.empty()) report(*list, "tasks: a queue must allow at least one task");
            for (const auto& item : list->items) {
                if (item->kind != Kind::scalar) {
                    report(*item, "tasks: expected plugin.task or plugin.*, got " + describe(*item));
                    continue;
                }
                auto text = expand(*item, "tasks");
                if (!text) continue;
                auto pattern = TaskPattern::parse(*text);
                if (!pattern) {
                    report(*item, "tasks: " + pattern.error());
                    continue;
                }
                queue.tasks.push_back(pattern.value());
                m_patterns.push_back(PatternUse{pattern.value(), where(*item)});
            }
        } else if (e->value->kind == Kind::null) {
            report(*e->key, "tasks: missing value (expected a sequence of plugin.task or plugin.*)");
        }
    } else if (map != nullptr) {
        report(*entry.key, "queue " + in_quotes(queue.name) + " has no tasks: (add tasks: [plugin.task or plugin.*])");
    }
    if (const auto* e = fields.get("concurrency")) read_count_as(*e, 1, 10000, queue.concurrency);
    if (const auto* e = fields.get("rate_limit")) {
        if (const YamlNode* rate = mapping_value(*e)) {
            Section r = section(*rate, "in " + path + ".rate_limit", k_rate_limit_keys);
            RateLimit limit;
            if (const auto* jobs = r.get("jobs")) {
                read_count(*jobs, 1, 1'000'000'000, limit.jobs);
            } else {
                report(*e->key, "rate_limit: missing key \"jobs\" (how many jobs may start per period)");
            }
            if (const auto* per = r.get("per")) read_duration(*per, model::Duration(1), limit.per);
            queue.rate_limit = limit;
        }
    }
    if (const auto* e = fields.get("retry")) {
        if (const YamlNode* retry = mapping_value(*e)) read_retry(*retry, path + ".retry", queue.retry);
    }
    if (const auto* e = fields.get("ttl")) {
        model::Duration ttl{};
        if (read_duration(*e, model::Duration(1), ttl)) queue.ttl = ttl;
    }
    if (const auto* e = fields.get("max_lost")) read_count_as(*e, 1, 1000, queue.max_lost);
    if (const auto* e = fields.get("sandbox")) {
        if (const YamlNode* sandbox = mapping_value(*e)) read_sandbox(*sandbox, path + ".sandbox", queue.sandbox);
    }
    if (!duplicate) m_queues.emplace(queue.name, std::move(queue));
}

void Loader::read_retry(const YamlNode& map, const std::string& path, RetryPolicy& out)
{
    Section fields = section(map, "in " + path, k_retry_keys);
    if (const auto* e = fields.get("max_attempts")) read_count_as(*e, 1, 1000, out.max_attempts);
    const auto* backoff_entry = fields.get("backoff");
    if (backoff_entry == nullptr) return;
    const YamlNode* backoff = mapping_value(*backoff_entry);
    if (backoff == nullptr) return;
    Section b = section(*backoff, "in " + path + ".backoff", k_backoff_keys);
    Backoff& out_backoff = out.backoff;
    if (const auto* e = b.get("type")) read_enum(*e, k_backoff_types, out_backoff.type);
    bool delay_ok = true;
    bool max_ok = true;
    if (const auto* e = b.get("delay")) delay_ok = read_duration(*e, model::Duration(0), out_backoff.delay);
    if (const auto* e = b.get("factor")) read_number(*e, 1.0, 1000.0, out_backoff.factor);
    if (const auto* e = b.get("max")) max_ok = read_duration(*e, model::Duration(1), out_backoff.max);
    if (const auto* e = b.get("jitter")) read_number(*e, 0.0, 1.0, out_backoff.jitter);
    if (delay_ok && max_ok && out_backoff.max < out_backoff.delay) {
        const auto* at = b.get("max") != nullptr ? b.get("max") : b.get("delay");
        report(*at->value, "backoff: max " + model::format_duration(out_backoff.max) + " is shorter than delay " +
                               model::format_duration(out_backoff.delay));
    }
}

void Loader::read_schedules(const YamlEntry& entry)
{
    const YamlNode* list = sequence_value(entry);
    if (list == nullptr) return;
    for (std::size_t i = 0; i < list->items.size(); ++i) {
        const YamlNode& item = *list->items[i];
        if (item.kind != Kind::mapping) {
            report(item, "schedules: expected a mapping (name, queue, task, payload, cron or every), got " +
                             describe(item));
            continue;
        }
        read_schedule(item, i);
    }
}

void Loader::read_schedule(const YamlNode& map, std::size_t index)
{
    ScheduleDraft draft;
    ScheduleSettings& schedule = draft.settings;
    schedule.defined_at = where(map);
    std::string label = "schedule " + std::to_string(index + 1);
    if (const auto* name = map.find("name"); name != nullptr && name->value->kind == Kind::scalar) {
        label = "schedule " + in_quotes(name->value->text);
    }
    Section fields = section(map, "in " + label, k_schedule_keys);

    if (const auto* e = fields.get("name")) {
        if (read_string(*e, schedule.name)) {
            label = "schedule " + in_quotes(schedule.name);
            if (!is_name(schedule.name)) {
                report(*e->value, "name: schedule name " + in_quotes(schedule.name) +
                                      " may only contain letters, digits, '_' and '-'");
            } else if (auto first = m_schedule_names.find(schedule.name); first != m_schedule_names.end()) {
                report(*e->value, "schedule " + in_quotes(schedule.name) + " is defined twice (first at " +
                                      first->second.to_string() + ")");
            } else {
                m_schedule_names.emplace(schedule.name, where(*e->value));
            }
        }
    } else {
        report(map, label + " has no name:");
    }
    if (const auto* e = fields.get("queue")) {
        if (read_string(*e, schedule.queue)) {
            draft.has_queue = true;
            draft.queue_at = where(*e->value);
        }
    } else {
        report(map, label + " has no queue:");
    }
    if (const auto* e = fields.get("task")) {
        if (auto text = scalar(*e, "plugin.task")) {
            auto task = TaskRef::parse(*text);
            if (task) {
                schedule.task = task.value();
                draft.has_task = true;
                draft.task_at = where(*e->value);
            } else {
                report(*e->value, "task: " + task.error());
            }
        }
    } else {
        report(map, label + " has no task:");
    }
    if (const auto* e = fields.get("payload")) {
        std::string json;
        if (to_json(*e->value, json)) schedule.payload_json = std::move(json);
    }
    const auto* cron = fields.get("cron");
    const auto* every = fields.get("every");
    if (cron != nullptr && every != nullptr) {
        const YamlEntry* second = cron->key->line > every->key->line ||
                                          (cron->key->line == every->key->line && cron->key->column > every->key->column)
                                      ? cron
                                      : every;
        report(*second->key, label + " has both cron: and every:; keep one");
    } else if (cron != nullptr) {
        if (auto text = scalar(*cron, "a cron expression")) {
            auto expression = CronExpression::parse(*text);
            if (expression) {
                schedule.trigger = expression.value();
            } else {
                report(*cron->value, "cron: " + expression.error());
            }
        }
    } else if (every != nullptr) {
        Every interval;
        if (read_duration(*every, model::Duration(1), interval.interval)) schedule.trigger = interval;
    } else {
        report(map, label + " has neither cron: nor every:");
    }
    m_schedules.push_back(std::move(draft));
}

bool Loader::to_json(const YamlNode& node, std::string& out)
{
    // Aliases can make a small file describe a huge tree: stop at the size, not after it.
    if (out.size() > k_max_payload_bytes) {
        report(node, "payload: larger than " + std::to_string(k_max_payload_bytes >> 20) + " MiB as JSON");
        return false;
    }
    switch (node.kind) {
    case Kind::null:
        out += "null";
        return true;
    case Kind::scalar: {
        auto text = expand(node, "payload");
        if (!text) return false;
        if (!model::is_valid_utf8(*text)) {
            report(node, "payload: " + in_quotes(*text) + " is not valid UTF-8");
            return false;
        }
        if (node.plain) {
            if (is_yaml_null(*text)) {
                out += "null";
                return true;
            }
            if (auto value = yaml_bool(*text)) {
                out += *value ? "true" : "false";
                return true;
            }
            if (is_json_number(*text)) {
                out += *text;
                return true;
            }
        }
        model::append_json_string(out, *text);
        return true;
    }
    case Kind::sequence:
        out += '[';
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            if (i > 0) out += ',';
            if (!to_json(*node.items[i], out)) return false;
        }
        out += ']';
        return true;
    case Kind::mapping:
        out += '{';
        for (std::size_t i = 0; i < node.entries.size(); ++i) {
            const YamlNode& key = *node.entries[i].key;
            if (key.kind != Kind::scalar) {
                report(key, "payload: keys must be strings, got " + describe(key));
                return false;
            }
            if (!model::is_valid_utf8(key.text)) {
                report(key, "payload: key " + in_quotes(key.text) + " is not valid UTF-8");
                return false;
            }
            if (i > 0) out += ',';
            model::append_json_string(out, key.text);
            out += ':';
            if (!to_json(*node.entries[i].value, out)) return false;
        }
        out += '}';
        return true;
    }
    return false;
}

void Loader::read_includes(const YamlEntry& entry)
{
    const YamlNode* list = sequence_value(entry);
    if (list == nullptr) return;
    for (const auto& item : list->items) {
        if (item->kind != Kind::scalar) {
            report(*item, "include: expected a file name or glob, got " + describe(*item));
            continue;
        }
        auto pattern = expand(*item, "include");
        if (!pattern) continue;
        if (pattern->empty()) {
            report(*item, "include: a file name must not be empty");
            continue;
        }
        if (m_options.includes == Includes::refuse) {
            report(*item, "include " + in_quotes(*pattern) + ": includes are not followed here");
            continue;
        }
        std::filesystem::path relative(*pattern);
        std::filesystem::path full = relative.is_absolute() ? relative : m_file.parent_path() / relative;
        const SourceLocation from = where(*item);

        glob_t matches{};
        int status = ::glob(full.c_str(), 0, nullptr, &matches);
        std::vector<std::filesystem::path> files;
        for (std::size_t i = 0; status == 0 && i < matches.gl_pathc; ++i) files.emplace_back(matches.gl_pathv[i]);
        ::globfree(&matches);
        bool literal = !has_glob_magic(*pattern);
        if (status == GLOB_NOMATCH || (status == 0 && files.empty())) {
            if (literal) report(from, "include " + in_quotes(*pattern) + ": no such file " + full.string());
            continue;
        }
        if (status != 0) {
            report(from, "include " + in_quotes(*pattern) + ": cannot list " + full.string());
            continue;
        }
        for (const auto& file : files) {
            std::error_code ec;
            if (!std::filesystem::is_regular_file(file, ec)) {
                // A directory next to the drop-in files is not a mistake; naming one is.
                if (literal) report(from, "include " + in_quotes(*pattern) + ": " + file.string() + " is not a file");
                continue;
            }
            load_included(file, from, *pattern);
        }
    }
}

void Loader::load_included(const std::filesystem::path& path, const SourceLocation& from, std::string_view pattern)
{
    std::error_code ec;
    std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
    if (ec) canonical = path;
    if (auto first = m_loaded.find(canonical); first != m_loaded.end()) {
        report(from, "include " + in_quotes(pattern) + ": " + path.string() + " is already loaded (as " +
                         first->second.string() + ")");
        return;
    }
    m_loaded.emplace(canonical, path);
    auto text = read_file(path, &from, pattern);
    if (!text) return;

    const std::filesystem::path outer_file = m_file;
    const std::filesystem::path outer_dir = m_dir;
    enter_file(path);
    m_settings.included_files.push_back(path);
    if (YamlNodePtr root = parse_yaml(*text, m_file, m_errors)) {
        if (root->kind == Kind::mapping) {
            read_file_body(*root, true);
        } else if (root->kind != Kind::null) {  // an empty drop-in file adds nothing
            report(*root, "expected a mapping with queues, schedules or include, got " + describe(*root));
        }
    }
    m_file = outer_file;
    m_dir = outer_dir;
}

void Loader::read_file_body(const YamlNode& root, bool included)
{
    if (included) {
        for (const auto& entry : root.entries) {
            if (entry.key->kind == Kind::scalar && (entry.key->text == "host" || entry.key->text == "sandbox")) {
                report(*entry.key, in_quotes(entry.key->text) +
                                       " belongs in the main config file; an included file may only hold queues, "
                                       "schedules and include");
            }
        }
    }
    Section top = section(root, "at the top level", k_top_keys);
    if (!included) {
        // The host's sandbox first: every queue, here or in an included file, builds on it.
        if (const auto* e = top.get("sandbox")) {
            if (const YamlNode* map = mapping_value(*e)) read_sandbox(*map, "sandbox", m_settings.sandbox);
        }
        read_host(top.get("host"));
    }
    if (const auto* e = top.get("queues")) read_queues(*e);
    if (const auto* e = top.get("schedules")) read_schedules(*e);
    if (const auto* e = top.get("include")) read_includes(*e);
}

void Loader::check_task(const model::PluginCatalog& catalog, const std::string& plugin, const std::string& task,
                        const std::string& text, const SourceLocation& at)
{
    const model::PluginInfo* info = catalog.find(plugin);
    if (info == nullptr) {
        for (const auto& broken : catalog.plugins) {
            if (broken.name == plugin) {
                report(at, "plugin " + in_quotes(plugin) + " (in " + in_quotes(text) + ") could not be loaded: " + broken.error);
                return;
            }
        }
        std::vector<std::string> names;
        for (const auto& p : catalog.plugins) {
            if (p.ok()) names.push_back(p.name);
        }
        std::string message = "unknown plugin " + in_quotes(plugin) + " in " + in_quotes(text);
        if (names.empty()) {
            std::vector<std::string> dirs;
            for (const auto& dir : m_settings.host.plugin_dirs) dirs.push_back(dir.string());
            message += dirs.empty() ? ": no plugin_dirs are configured" : ": no plugins found in " + join(dirs);
        } else {
            if (auto suggestion = closest_match(plugin, names)) message += "; did you mean " + in_quotes(*suggestion) + "?";
            message += " (plugins found: " + join(names) + ")";
        }
        report(at, std::move(message));
        return;
    }
    if (task == "*" || info->has_task(task)) return;
    std::vector<std::string> tasks;
    for (const auto& t : info->tasks) tasks.push_back(t.name);
    std::sort(tasks.begin(), tasks.end());
    std::string message = "plugin " + in_quotes(plugin) + " has no task " + in_quotes(task) + " (in " + in_quotes(text) + ")";
    if (auto suggestion = closest_match(task, tasks)) message += "; did you mean " + in_quotes(*suggestion) + "?";
    message += tasks.empty() ? " (it has no tasks)" : " (its tasks: " + join(tasks) + ")";
    report(at, std::move(message));
}

void Loader::check_tasks()
{
    if (!m_options.catalog) return;
    model::PluginCatalog catalog;
    try {
        catalog = m_options.catalog(m_settings.host.plugin_dirs);
    } catch (const std::exception& e) {
        SourceLocation at = m_plugin_dirs_at.value_or(SourceLocation{m_files.front(), 1, 1});
        report(at, std::string("plugin_dirs: cannot list the plugins: ") + e.what());
        return;
    }
    for (const auto& use : m_patterns) {
        check_task(catalog, use.pattern.plugin, use.pattern.task, use.pattern.to_string(), use.at);
    }
    for (const auto& draft : m_schedules) {
        if (!draft.has_task) continue;
        const TaskRef& task = draft.settings.task;
        check_task(catalog, task.plugin, task.task, task.to_string(), draft.task_at);
    }
}

void Loader::check_schedules()
{
    std::vector<std::string> queue_names;
    for (const auto& [name, queue] : m_queues) queue_names.push_back(name);
    for (const auto& draft : m_schedules) {
        const ScheduleSettings& schedule = draft.settings;
        if (!draft.has_queue) continue;
        std::string label = schedule.name.empty() ? std::string("schedule") : "schedule " + in_quotes(schedule.name);
        auto queue = m_queues.find(schedule.queue);
        if (queue == m_queues.end()) {
            std::string message = label + ": unknown queue " + in_quotes(schedule.queue);
            if (auto suggestion = closest_match(schedule.queue, queue_names)) {
                message += "; did you mean " + in_quotes(*suggestion) + "?";
            }
            message += queue_names.empty() ? " (no queues are defined)" : " (queues: " + join(queue_names) + ")";
            report(draft.queue_at, std::move(message));
            continue;
        }
        if (draft.has_task && !queue->second.may_run(schedule.task)) {
            std::vector<std::string> patterns;
            for (const auto& p : queue->second.tasks) patterns.push_back(p.to_string());
            report(draft.task_at, label + ": queue " + in_quotes(schedule.queue) + " may not run " +
                                      in_quotes(schedule.task.to_string()) + " (it runs " + join(patterns) + ")");
        }
    }
}

LoadResult Loader::finish()
{
    LoadResult result;
    auto file_rank = [&](const std::filesystem::path& file) {
        return std::find(m_files.begin(), m_files.end(), file) - m_files.begin();
    };
    std::stable_sort(m_errors.begin(), m_errors.end(), [&](const ConfigError& a, const ConfigError& b) {
        auto ra = file_rank(a.file);
        auto rb = file_rank(b.file);
        if (ra != rb) return ra < rb;
        if (a.line != b.line) return a.line < b.line;
        return a.column < b.column;
    });
    if (!m_errors.empty()) {
        result.errors = std::move(m_errors);
        return result;
    }
    for (auto& [name, queue] : m_queues) m_settings.queues.push_back(std::move(queue));
    for (auto& draft : m_schedules) m_settings.schedules.push_back(std::move(draft.settings));
    result.settings = std::make_shared<const Settings>(std::move(m_settings));
    return result;
}

LoadResult Loader::load(const std::filesystem::path& file, const std::string_view* text)
{
    m_settings.source_file = file;
    enter_file(file);
    std::error_code ec;
    std::filesystem::path canonical = std::filesystem::weakly_canonical(file, ec);
    m_loaded.emplace(ec ? file : canonical, file);

    std::optional<std::string> read;
    if (text == nullptr) {
        read = read_file(file, nullptr, {});
        if (!read) return finish();
    } else if (text->size() > k_max_config_bytes) {
        m_errors.push_back(ConfigError{file, 0, 0, "larger than " + std::to_string(k_max_config_bytes >> 20) + " MiB"});
        return finish();
    }
    YamlNodePtr root = parse_yaml(text != nullptr ? *text : std::string_view(*read), file, m_errors);
    if (!root) return finish();
    if (root->kind == Kind::null) {
        report(*root, "the file is empty (expected a mapping with host, sandbox, queues, schedules or include)");
        return finish();
    }
    if (root->kind != Kind::mapping) {
        report(*root, "expected a mapping with host, sandbox, queues, schedules or include, got " + describe(*root));
        return finish();
    }
    read_file_body(*root, false);
    check_tasks();
    check_schedules();
    return finish();
}

} // namespace

LoadResult load_config(const std::filesystem::path& file, const LoadOptions& options)
{
    return Loader(options).load(file, nullptr);
}

LoadResult load_config_text(std::string_view text, const std::filesystem::path& file, const LoadOptions& options)
{
    return Loader(options).load(file, &text);
}

std::shared_ptr<const Settings> load_config_or_throw(const std::filesystem::path& file, const LoadOptions& options)
{
    LoadResult result = load_config(file, options);
    if (!result.ok()) throw ConfigLoadError(std::move(result.errors));
    return result.settings;
}

} // namespace sandhost::config
