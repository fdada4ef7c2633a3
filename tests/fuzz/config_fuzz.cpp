// Feeds arbitrary bytes to the config loader (and to the value parsers it is built from).
// Beyond "no crash, no hang, no sanitizer report" it checks one property: a config that loads
// prints as YAML that loads back to the same settings.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "config/cron.h"
#include "config/load.h"
#include "config/store_url.h"
#include "config/to_yaml.h"
#include "model/units.h"
#include "config/variables.h"

namespace {

using namespace sandhost;

model::PluginCatalog fuzz_catalog(const std::vector<std::filesystem::path>& dirs)
{
    auto plugin = [](std::string name, std::vector<std::string> tasks) {
        model::PluginInfo info;
        info.name = std::move(name);
        for (auto& task : tasks) info.tasks.push_back({std::move(task), ""});
        return info;
    };
    model::PluginCatalog catalog;
    catalog.dirs = dirs;
    catalog.plugins = {plugin("hello", {"echo", "word_count", "long"}),
                       plugin("legacy_c", {"checksum", "reverse", "parse"}),
                       plugin("misbehave", {"echo", "fail", "segfault", "hang", "leak"})};
    model::PluginInfo broken;
    broken.name = "broken";
    broken.error = "not loadable";
    catalog.plugins.push_back(broken);
    return catalog;
}

config::LoadOptions fuzz_options()
{
    config::LoadOptions options;
    // A fixed environment: the outcome depends on the input only.
    options.env = [](const std::string& name) -> std::optional<std::string> {
        if (name == "HOME") return std::string("/home/fuzz");
        if (name == "EMPTY") return std::string();
        if (name == "N") return std::string("42");
        return std::nullopt;
    };
    options.catalog = fuzz_catalog;
    // Globs in arbitrary input would walk the real file system.
    options.includes = config::Includes::refuse;
    return options;
}

// A store's password is printed as "***" (validate --print, logs, errors): what is printed
// reads back as the same store with that password. Compared as printed.
config::StoreUrl password_as_printed(config::StoreUrl store)
{
    if (auto* redis = std::get_if<config::RedisStore>(&store); redis && !redis->password.empty()) redis->password = "***";
    return store;
}

config::Settings without_provenance(config::Settings settings)
{
    settings.source_file.clear();
    settings.included_files.clear();
    for (auto& q : settings.queues) q.defined_at = {};
    for (auto& s : settings.schedules) s.defined_at = {};
    settings.host.store = password_as_printed(std::move(settings.host.store));
    return settings;
}

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "config_fuzz: %s\n%s\n", what, detail.c_str());
    std::abort();
}

void fuzz_value_parsers(std::string_view text)
{
    if (auto cron = config::CronExpression::parse(text)) {
        auto next = cron.value().next_after(std::chrono::sys_days{std::chrono::year{2024} / 2 / 29});
        if (!next) fail("a parsed cron expression never fires", std::string(text));
        if (!cron.value().matches(*next)) fail("next_after returned a minute that does not match", std::string(text));
    }
    if (auto duration = model::parse_duration(text)) {
        if (model::parse_duration(model::format_duration(duration.value())).value() != duration.value()) {
            fail("duration does not round-trip", std::string(text));
        }
    }
    if (auto size = model::parse_size(text)) {
        if (model::parse_size(model::format_size(size.value())).value() != size.value()) {
            fail("size does not round-trip", std::string(text));
        }
    }
    if (auto store = config::parse_store_url(text, "/base")) {
        auto again = config::parse_store_url(config::to_string(store.value()), "/elsewhere");
        if (!again || !(again.value() == password_as_printed(store.value()))) fail("store URL does not round-trip", std::string(text));
    }
    (void)config::expand_variables(text, fuzz_options().env);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    fuzz_value_parsers(text.substr(0, 256));

    static const config::LoadOptions options = fuzz_options();
    config::LoadResult result = config::load_config_text(text, "/fuzz/config.yaml", options);
    if (result.ok() != result.errors.empty()) fail("settings and errors disagree", std::string(text));
    for (const auto& error : result.errors) {
        if (error.message.empty()) fail("an error without a message", std::string(text));
    }
    if (!result.ok()) return 0;

    std::string printed = config::to_yaml(*result.settings);
    config::LoadResult again = config::load_config_text(printed, "/printed/config.yaml", options);
    if (!again.ok()) {
        std::string errors;
        for (const auto& e : again.errors) errors += e.to_string() + "\n";
        fail("the printed settings do not load", printed + "\n" + errors);
    }
    if (!(without_provenance(*result.settings) == without_provenance(*again.settings))) {
        fail("the printed settings load differently", printed);
    }
    return 0;
}
