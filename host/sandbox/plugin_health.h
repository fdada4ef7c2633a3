// The broken-plugin rule: a plugin whose library fails to load three times in a row is marked
// broken, and its attempts fail at once as load_failed without starting a process, until a
// back-off (5 s, doubling up to 5 min) has passed or the library file changes.
#pragma once

#include "model/host_record.h"
#include "model/outcome.h"
#include "os/file_security.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sandhost::sandbox {

// Says once (a warning) that the library `plugin` was written over in place while processes
// that loaded it as `before` may still run it: they may crash. Returns whether it said so:
// `now` is `before` written in place (os::written_in_place).
bool warn_if_written_in_place(const std::filesystem::path& plugin, const os::FileIdentity& before, const os::FileIdentity& now);

class PluginHealth {
public:
    static constexpr int k_failures_before_broken = 3;

    // The outcome of an attempt of `plugin` refused at once, when the plugin is broken and
    // `file` (what the path names now) is the library that failed. Thread-safe.
    std::optional<model::Outcome> refuse(const std::filesystem::path& plugin, const os::FileIdentity& file, const char* isolation);

    // Learns from the outcome of an attempt that found `file` at the plugin's path: an
    // unusable load counts, anything that got past loading clears the count. Thread-safe.
    void record(const std::filesystem::path& plugin, const os::FileIdentity& file, const model::Outcome& outcome);

    // The plugins marked broken now.
    std::vector<model::BrokenPlugin> broken() const;

    void clear();

private:
    struct Entry {
        int failures = 0;
        std::string last_error;
        os::FileIdentity file;  // a changed library is a new chance
        std::chrono::steady_clock::time_point broken_until{};
        std::chrono::system_clock::time_point broken_until_wall{};
        std::chrono::seconds backoff{0};
    };
    mutable std::mutex m_mutex;
    std::map<std::filesystem::path, Entry> m_entries;
};

} // namespace sandhost::sandbox
