#include "store/redis_scripts.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA1Engine.h>

#include <array>
#include <initializer_list>
#include <stdexcept>

namespace sandhost::store::redis {
namespace {

constexpr std::size_t k_scripts = static_cast<std::size_t>(Script::continue_events) + 1;

std::string_view file_text(std::string_view name)
{
    for (const auto& file : lua_files()) {
        if (file.name == name) return file.text;
    }
    throw std::logic_error("the Redis store's Lua file " + std::string(name) + ".lua is not in the build");
}

ScriptText compose(std::string_view name, std::initializer_list<std::string_view> libraries)
{
    ScriptText script;
    script.name = std::string(name);
    script.text = std::string(file_text("lib_base"));
    for (auto library : libraries) script.text += file_text(library);
    script.text += file_text(name);
    Poco::SHA1Engine engine;
    engine.update(script.text);
    script.sha1 = Poco::DigestEngine::digestToHex(engine.digest());
    return script;
}

std::array<ScriptText, k_scripts> compose_all()
{
    const std::initializer_list<std::string_view> jobs{"lib_jobs"};
    const std::initializer_list<std::string_view> claims{"lib_jobs", "lib_claim"};
    const std::initializer_list<std::string_view> ends{"lib_jobs", "lib_attempt"};
    const std::initializer_list<std::string_view> actions{"lib_jobs", "lib_actions"};
    const std::initializer_list<std::string_view> none{};
    std::array<ScriptText, k_scripts> all;
    auto set = [&](Script script, std::string_view name, std::initializer_list<std::string_view> libraries) {
        all[static_cast<std::size_t>(script)] = compose(name, libraries);
    };
    set(Script::enqueue, "enqueue", jobs);
    set(Script::enqueue_batch, "enqueue_batch", jobs);
    set(Script::claim, "claim", claims);
    set(Script::finish, "finish", ends);
    set(Script::recover, "recover", ends);
    set(Script::finish_and_claim, "finish_and_claim", {"lib_jobs", "lib_attempt", "lib_claim"});
    set(Script::renew, "renew", none);
    set(Script::progress, "progress", none);
    set(Script::cancel, "cancel", actions);
    set(Script::retry, "retry", actions);
    set(Script::promote, "promote", actions);
    set(Script::change, "change", actions);
    set(Script::remove, "remove", jobs);
    set(Script::continue_events, "continue_events", none);
    set(Script::expire, "expire", jobs);
    set(Script::pause, "pause", none);
    set(Script::schedule, "schedule", jobs);
    set(Script::purge, "purge", jobs);
    set(Script::trim, "trim", jobs);
    set(Script::unclaimable, "unclaimable", claims);
    set(Script::lost, "lost", none);
    set(Script::list, "list", none);
    set(Script::ids, "ids", none);
    set(Script::counts, "counts", none);
    set(Script::results, "results", none);
    set(Script::attempts, "attempts", none);
    set(Script::register_host, "register_host", none);
    set(Script::publish_host, "publish_host", none);
    set(Script::heartbeat, "heartbeat", none);
    set(Script::unregister_host, "unregister_host", none);
    set(Script::hosts, "hosts", none);
    set(Script::layout, "layout", none);
    set(Script::import, "import", jobs);
    return all;
}

} // namespace

const ScriptText& script_text(Script script)
{
    static const std::array<ScriptText, k_scripts> all = compose_all();
    return all.at(static_cast<std::size_t>(script));
}

} // namespace sandhost::store::redis
