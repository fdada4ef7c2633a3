#include "sandbox/plugin_health.h"

#include <spdlog/spdlog.h>

namespace sandhost::sandbox {

bool warn_if_written_in_place(const std::filesystem::path& plugin, const os::FileIdentity& before, const os::FileIdentity& now)
{
    if (!os::written_in_place(before, now)) return false;
    spdlog::warn("{} was written over in place while processes that loaded it may still run it: they may crash; install a new "
                 "version by renaming a new file over the old one (mv), not by copying onto it",
                 plugin.string());
    return true;
}

using Clock = std::chrono::steady_clock;

std::optional<model::Outcome> PluginHealth::refuse(const std::filesystem::path& plugin, const os::FileIdentity& file, const char* isolation)
{
    std::lock_guard lock(m_mutex);
    auto it = m_entries.find(plugin);
    if (it == m_entries.end() || it->second.failures < k_failures_before_broken) return std::nullopt;
    const auto now = Clock::now();
    if (now >= it->second.broken_until || !(file == it->second.file)) return std::nullopt;  // try for real
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second.broken_until - now).count() + 1;
    model::Outcome o;
    o.kind = model::OutcomeKind::load_failed;
    o.error = it->second.last_error + " (plugin marked broken after " + std::to_string(it->second.failures) +
              " consecutive load failures; tried again in " + std::to_string(left) + "s or when the file changes)";
    o.isolation = isolation;
    o.started_at = o.ended_at = std::chrono::system_clock::now();
    o.plugin_unusable = true;
    return o;
}

void PluginHealth::record(const std::filesystem::path& plugin, const os::FileIdentity& file, const model::Outcome& outcome)
{
    std::lock_guard lock(m_mutex);
    if (!(outcome.kind == model::OutcomeKind::load_failed && outcome.plugin_unusable)) {
        // Anything that got past loading proves the library loads.
        if (outcome.kind != model::OutcomeKind::spawn_failed && outcome.kind != model::OutcomeKind::load_failed) m_entries.erase(plugin);
        return;
    }
    auto& entry = m_entries[plugin];
    ++entry.failures;
    entry.last_error = outcome.error;
    entry.file = file;
    if (entry.failures >= k_failures_before_broken) {
        entry.backoff = entry.backoff.count() == 0 ? std::chrono::seconds(5) : std::min(entry.backoff * 2, std::chrono::seconds(300));
        entry.broken_until = Clock::now() + entry.backoff;
        entry.broken_until_wall = std::chrono::system_clock::now() + entry.backoff;
        spdlog::warn("plugin {} marked broken for {}s after {} consecutive load failures: {}", plugin.string(), entry.backoff.count(),
                     entry.failures, entry.last_error);
    }
}

std::vector<model::BrokenPlugin> PluginHealth::broken() const
{
    std::lock_guard lock(m_mutex);
    std::vector<model::BrokenPlugin> out;
    const auto now = Clock::now();
    for (const auto& [path, entry] : m_entries) {
        if (entry.failures < k_failures_before_broken || now >= entry.broken_until) continue;
        out.push_back(model::BrokenPlugin{path.string(), entry.last_error, static_cast<std::uint32_t>(entry.failures), entry.broken_until_wall});
    }
    return out;
}

void PluginHealth::clear()
{
    std::lock_guard lock(m_mutex);
    m_entries.clear();
}

} // namespace sandhost::sandbox
