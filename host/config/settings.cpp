#include "config/settings.h"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>


namespace sandhost::config {
namespace {

bool is_name(std::string_view text)
{
    if (text.empty()) return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

std::string in_quotes(std::string_view text)
{
    return "\"" + std::string(text) + "\"";
}

// Splits "plugin.task" at its only dot; false when there is not exactly one.
bool split_reference(std::string_view text, std::string_view& plugin, std::string_view& task)
{
    auto dot = text.find('.');
    if (dot == std::string_view::npos || text.find('.', dot + 1) != std::string_view::npos) return false;
    plugin = text.substr(0, dot);
    task = text.substr(dot + 1);
    return true;
}

} // namespace

std::string SourceLocation::to_string() const
{
    return file.string() + ":" + std::to_string(line) + ":" + std::to_string(column);
}

model::ParseResult<TaskRef> TaskRef::parse(std::string_view text)
{
    std::string_view plugin;
    std::string_view task;
    if (!split_reference(text, plugin, task) || !is_name(plugin) || !is_name(task)) {
        std::string why = in_quotes(text) + " is not a task: write plugin.task";
        if (split_reference(text, plugin, task) && task == "*") why += " (a schedule runs one task, not a pattern)";
        return model::ParseResult<TaskRef>::failure(why);
    }
    return model::ParseResult<TaskRef>::success(TaskRef{std::string(plugin), std::string(task)});
}

std::string TaskRef::to_string() const
{
    return plugin + "." + task;
}

model::ParseResult<TaskPattern> TaskPattern::parse(std::string_view text)
{
    std::string_view plugin;
    std::string_view task;
    if (!split_reference(text, plugin, task) || !is_name(plugin) || (task != "*" && !is_name(task))) {
        return model::ParseResult<TaskPattern>::failure(in_quotes(text) +
                                                 " is not a task pattern: write plugin.task or plugin.* (names take "
                                                 "letters, digits, '_' and '-')");
    }
    return model::ParseResult<TaskPattern>::success(TaskPattern{std::string(plugin), std::string(task)});
}

std::string TaskPattern::to_string() const
{
    return plugin + "." + task;
}

bool TaskPattern::matches(const TaskRef& ref) const
{
    return plugin == ref.plugin && (is_wildcard() || task == ref.task);
}

model::ParseResult<ApiListen> ApiListen::parse(std::string_view text)
{
    const auto fail = [&](const std::string& why) {
        return model::ParseResult<ApiListen>::failure(in_quotes(text) + " is not HOST:PORT (" + why +
                                                      "; for example 127.0.0.1:7450 or [::1]:7450)");
    };
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("no port");
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
        in6_addr address{};
        if (inet_pton(AF_INET6, std::string(host).c_str(), &address) != 1) return fail("not an IPv6 address in brackets");
    } else if (host.find(':') != std::string_view::npos) {
        return fail("an IPv6 address goes in brackets");
    }
    if (host.empty()) return fail("no host");
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
        return fail("the port must be a number from 0 to 65535");
    }
    return model::ParseResult<ApiListen>::success(ApiListen{std::string(host), static_cast<std::uint16_t>(port)});
}

std::string ApiListen::to_string() const
{
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool ApiListen::is_loopback() const
{
    if (host == "localhost") return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool QueueSettings::may_run(const TaskRef& task) const
{
    return std::any_of(tasks.begin(), tasks.end(), [&](const TaskPattern& p) { return p.matches(task); });
}

const QueueSettings* Settings::find_queue(std::string_view name) const
{
    auto it = std::lower_bound(queues.begin(), queues.end(), name,
                               [](const QueueSettings& q, std::string_view n) { return q.name < n; });
    return it != queues.end() && it->name == name ? &*it : nullptr;
}

const char* to_string(LogLevel level)
{
    switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    }
    return "?";
}

const char* to_string(LogFormat format)
{
    switch (format) {
    case LogFormat::text: return "text";
    case LogFormat::json: return "json";
    }
    return "?";
}

const char* to_string(StoreSync sync)
{
    switch (sync) {
    case StoreSync::normal: return "normal";
    case StoreSync::full: return "full";
    }
    return "?";
}

const char* to_string(BackoffType type)
{
    switch (type) {
    case BackoffType::fixed: return "fixed";
    case BackoffType::exponential: return "exponential";
    }
    return "?";
}

} // namespace sandhost::config
