#include "config/load.h"
#include "os/file_security.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

#include "config/loader.h"
#include "config/suggest.h"

namespace sandhost::config {
namespace {

using Kind = YamlNode::Kind;

const std::vector<std::string> k_top_keys{"host", "sandbox", "api", "queues", "schedules", "include"};

} // namespace

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

void Loader::read_file_body(const YamlNode& root, bool included)
{
    if (included) {
        for (const auto& entry : root.entries) {
            if (entry.key->kind == Kind::scalar &&
                (entry.key->text == "host" || entry.key->text == "sandbox" || entry.key->text == "api")) {
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
        if (const auto* e = top.get("api")) read_api(*e);
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
    // A library someone else could replace would run as the worker's user.
    if (!m_settings.host.allow_insecure_plugins) {
        SourceLocation at = m_plugin_dirs_at.value_or(SourceLocation{m_files.front(), 1, 1});
        for (const auto& plugin : catalog.plugins) {
            if (auto why = os::writable_by_others(plugin.path)) {
                report(at, "plugin_dirs: plugin " + in_quotes(plugin.name) + " refused: " + *why +
                               " (make it writable by its owner only, or set host.allow_insecure_plugins: true)");
            }
        }
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
        report(*root, "the file is empty (expected a mapping with host, sandbox, api, queues, schedules or include)");
        return finish();
    }
    if (root->kind != Kind::mapping) {
        report(*root, "expected a mapping with host, sandbox, api, queues, schedules or include, got " + describe(*root));
        return finish();
    }
    read_file_body(*root, false);
    if (!m_plugin_dirs_at) m_settings.host.plugin_dirs = m_options.default_plugin_dirs;
    check_tasks();
    check_schedules();
    return finish();
}

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
