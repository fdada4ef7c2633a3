// Shared by the config tests: a private temporary directory per test, the plugin catalog the
// build will have, and load options that never read the real environment.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

#include "config/load.h"
#include "model/plugin_catalog.h"

namespace sandhost::config::testing {

// A fresh directory under /tmp, removed with everything in it when the object dies.
class TempDir {
public:
    TempDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "sandhost-config-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
        m_path = pattern;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return m_path; }

    // Writes `text` to `name` (relative to the directory, parents created) and returns its path.
    std::filesystem::path write(const std::filesystem::path& name, const std::string& text) const
    {
        std::filesystem::path file = m_path / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream out(file, std::ios::binary);
        out << text;
        if (!out) throw std::runtime_error("cannot write " + file.string());
        return file;
    }

private:
    std::filesystem::path m_path;
};

// The plugins the build will produce, as the plugin scan will describe them.
inline model::PluginCatalog build_catalog(const std::vector<std::filesystem::path>& dirs)
{
    auto plugin = [](std::string name, std::vector<std::string> tasks) {
        model::PluginInfo info;
        info.name = name;
        info.path = "/plugins/lib" + name + ".so";
        info.version = "1.0.0";
        for (auto& task : tasks) info.tasks.push_back({task, ""});
        return info;
    };
    model::PluginCatalog catalog;
    catalog.dirs = dirs;
    catalog.plugins = {
        plugin("hello", {"echo", "word_count", "long"}),
        plugin("legacy_c", {"checksum", "reverse", "parse"}),
        plugin("misbehave", {"echo", "fail", "segfault", "abort", "stack_overflow", "exit", "hang", "sleep",
                             "ignore_term", "leak", "cpu_spin", "write_file", "big_result", "flood_stdout", "throw",
                             "spawn_children", "garble", "fds", "progress"}),
    };
    return catalog;
}

// Options with the build's catalog and a fixed environment.
inline LoadOptions test_options(std::map<std::string, std::string> env = {})
{
    LoadOptions options;
    options.env = [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    };
    options.catalog = build_catalog;
    return options;
}

inline std::string error_lines(const LoadResult& result)
{
    std::string text;
    for (const auto& e : result.errors) text += e.to_string() + "\n";
    return text;
}

} // namespace sandhost::config::testing
