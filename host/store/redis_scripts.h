// The Lua scripts of the Redis store. Their sources live in redis_lua/, one file each, built
// into the binary as text (embed_lua.cmake); a script is its libraries (lib_*.lua) followed by
// its own file. Internal to the store.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sandhost::store::redis {

// One file of redis_lua/, by its name without ".lua" (generated).
struct LuaFile {
    std::string_view name;
    std::string_view text;
};
const std::vector<LuaFile>& lua_files();

enum class Script {
    enqueue, enqueue_batch, claim, finish, recover, finish_and_claim, renew, progress, cancel, retry, promote, expire, pause, schedule, purge,
    unclaimable, lost, list, ids, counts, results, attempts, register_host, publish_host, heartbeat, unregister_host, hosts,
    trim, layout, import, change, remove, continue_events,
};

struct ScriptText {
    std::string name;
    std::string text;  // the libraries it needs, then its own file
    std::string sha1;  // what EVALSHA calls it by
};

// Built once, on first use; the same for every connection. Throws std::logic_error when a
// file is missing from the build (a build mistake, not a runtime condition).
const ScriptText& script_text(Script script);

} // namespace sandhost::store::redis
