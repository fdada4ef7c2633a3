#include "store/redis_codec.h"

#include "store/attempt_codec.h"

#include <charconv>
#include <cstdlib>

namespace sandhost::store::redis {
namespace {

std::int64_t number(const std::string& text, const char* what)
{
    std::int64_t out = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size()) {
        throw ReplyError(std::string(what) + " is \"" + text + "\", not a number");
    }
    return out;
}

const std::string* field(const Hash& hash, const char* name)
{
    const auto found = hash.find(name);
    return found == hash.end() ? nullptr : &found->second;
}

std::optional<std::int64_t> optional_number(const Hash& hash, const char* name)
{
    const std::string* text = field(hash, name);
    if (!text) return std::nullopt;
    return number(*text, name);
}

std::int64_t required_number(const Hash& hash, const char* name)
{
    const auto value = optional_number(hash, name);
    if (!value) throw ReplyError(std::string("field ") + name + " is missing");
    return *value;
}

std::optional<std::string> optional_text(const Hash& hash, const char* name)
{
    const std::string* text = field(hash, name);
    if (!text) return std::nullopt;
    return *text;
}

} // namespace

std::int64_t to_millis(model::TimePoint time)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

model::TimePoint from_millis(std::int64_t millis) { return model::TimePoint(std::chrono::milliseconds(millis)); }

Hash hash_of(const Value& flat)
{
    const auto items = elements(flat);
    if (items.size() % 2 != 0) throw ReplyError("a hash with an odd number of elements");
    Hash out;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2) out.emplace(bytes(items[i]), bytes(items[i + 1]));
    return out;
}

model::Job job_from_hash(const Hash& hash)
{
    model::Job job;
    job.id = required_number(hash, "id");
    job.queue = optional_text(hash, "q").value_or("");
    job.task = optional_text(hash, "t").value_or("");
    job.payload = optional_text(hash, "p").value_or("");
    job.priority = static_cast<int>(required_number(hash, "pr"));
    const auto state = model::job_state_from_string(optional_text(hash, "s").value_or(""));
    if (!state) throw ReplyError("job " + std::to_string(job.id) + " has no known state");
    job.state = *state;
    job.created_at = from_millis(required_number(hash, "c"));
    job.updated_at = from_millis(required_number(hash, "u"));
    job.run_at = from_millis(required_number(hash, "r"));
    if (auto expires_at = optional_number(hash, "x")) job.expires_at = from_millis(*expires_at);
    if (auto timeout = optional_number(hash, "to")) job.timeout = model::Duration(*timeout);
    if (auto ttl = optional_number(hash, "ttl")) job.ttl = model::Duration(*ttl);
    if (auto max_attempts = optional_number(hash, "ma")) job.max_attempts = static_cast<std::uint32_t>(*max_attempts);
    job.attempts = static_cast<std::uint32_t>(optional_number(hash, "n").value_or(0));
    job.attempts_since_retry = static_cast<std::uint32_t>(optional_number(hash, "nr").value_or(0));
    job.lost = static_cast<std::uint32_t>(optional_number(hash, "l").value_or(0));
    job.result = optional_text(hash, "res");
    job.error = optional_text(hash, "err");
    if (const std::string* percent = field(hash, "pp")) {
        job.progress = model::Progress{std::strtod(percent->c_str(), nullptr), optional_text(hash, "pm").value_or("")};
    }
    const auto attempt_id = optional_number(hash, "a");
    const auto holder = optional_text(hash, "h");
    const auto lease_expires_at = optional_number(hash, "le");
    if (job.state == model::JobState::active && attempt_id && holder && lease_expires_at) {
        job.lease = model::Lease{*holder, from_millis(*lease_expires_at), *attempt_id};
    }
    job.cancel_requested = optional_text(hash, "cr") == "1";
    job.schedule = optional_text(hash, "sc").value_or("");
    job.key = optional_text(hash, "k");
    if (const std::string* dependencies = field(hash, "d")) {
        std::size_t start = 0;
        while (start < dependencies->size()) {
            const auto comma = dependencies->find(',', start);
            const auto end = comma == std::string::npos ? dependencies->size() : comma;
            job.depends_on.push_back(number(dependencies->substr(start, end - start), "a dependency"));
            start = end + 1;
        }
    }
    return job;
}

Claim claim_from_reply(const Value& reply)
{
    const auto parts = elements(reply);
    if (parts.size() != 3) throw ReplyError("a claim of " + std::to_string(parts.size()) + " parts");
    Claim claim;
    claim.attempt_id = integer(parts[0]);
    claim.number = static_cast<std::uint32_t>(integer(parts[1]));
    claim.job = job_from_hash(hash_of(parts[2]));
    return claim;
}

std::optional<model::JobState> applied_state(const Value& reply)
{
    if (is_nil(reply)) return std::nullopt;
    const std::string text = bytes(reply);
    const auto state = model::job_state_from_string(text);
    if (!state) throw ReplyError("an attempt's end applied \"" + text + "\"");
    return state;
}

std::vector<model::AttemptRecord> attempts_from_hash(model::JobId job, const Hash& hash,
                                                     const std::optional<std::string>& job_result)
{
    // Fields "NUMBER:NAME", by number.
    std::map<std::uint32_t, std::map<std::string, const std::string*>> by_number;
    for (const auto& [name, value] : hash) {
        const auto colon = name.find(':');
        if (colon == std::string::npos) continue;
        by_number[static_cast<std::uint32_t>(number(name.substr(0, colon), "an attempt number"))][name.substr(colon + 1)] = &value;
    }
    std::vector<model::AttemptRecord> records;
    for (const auto& [attempt_number, named] : by_number) {
        const auto& fields = named;  // a lambda may not capture a structured binding in clang 14
        auto get = [&](const char* name) -> const std::string* {
            const auto found = fields.find(name);
            return found == fields.end() ? nullptr : found->second;
        };
        model::AttemptRecord out;
        out.job_id = job;
        out.number = attempt_number;
        if (const std::string* id = get("id")) out.attempt_id = number(*id, "an attempt id");
        if (const std::string* host = get("h")) out.host = *host;
        const std::string* record = get("rec");
        if (auto decoded = record ? decode_outcome(*record) : std::nullopt) {
            out.outcome = std::move(*decoded);
        } else {
            // Not expected (the store wrote it); keep what the other fields know.
            const std::string* kind = get("o");
            out.outcome.kind = model::outcome_kind_from_string(kind ? *kind : "").value_or(model::OutcomeKind::worker_lost);
            out.outcome.error = "the stored attempt record could not be read";
        }
        if (const std::string* in_job = get("rij"); in_job && *in_job == "1") {
            out.outcome.result = job_result.value_or("");
        } else if (const std::string* result = get("res")) {
            out.outcome.result = *result;
        } else {
            out.outcome.result.clear();
        }
        records.push_back(std::move(out));
    }
    return records;
}

model::HostRecord host_from_hash(const std::string& name, const Hash& hash)
{
    model::HostRecord host;
    host.name = name;
    host.holder = optional_text(hash, "holder").value_or("");
    host.version = optional_text(hash, "version").value_or("");
    host.started_at = from_millis(optional_number(hash, "started").value_or(0));
    host.heartbeat_at = from_millis(optional_number(hash, "hb").value_or(0));
    if (auto stopped_at = optional_number(hash, "stopped")) host.stopped_at = from_millis(*stopped_at);
    auto unreadable = [&](const char* what) { return ReplyError("the " + std::string(what) + " of host " + name + " cannot be read"); };
    if (const std::string* queues = field(hash, "queues")) {
        auto decoded = model::served_queues_from_json(*queues);
        if (!decoded) throw unreadable("served queues");
        host.queues = std::move(*decoded);
    }
    if (const std::string* catalog = field(hash, "catalog")) {
        auto decoded = model::catalog_from_json(*catalog);
        if (!decoded) throw unreadable("plugin catalog");
        host.catalog = std::move(*decoded);
    }
    if (auto catalog_at = optional_number(hash, "catalog_at")) host.catalog_at = from_millis(*catalog_at);
    if (const std::string* status = field(hash, "status")) {
        auto decoded = model::host_status_from_json(*status);
        if (!decoded) throw unreadable("status");
        host.status = std::move(*decoded);
    }
    return host;
}

Event event_from_entry(const Value& entry)
{
    const auto parts = elements(entry);
    if (parts.size() != 2) throw ReplyError("an event of " + std::to_string(parts.size()) + " parts");
    const std::string id = bytes(parts[0]);
    const auto dash = id.find('-');
    Event event;
    event.id = number(dash == std::string::npos ? id : id.substr(dash + 1), "an event id");
    const Hash fields = hash_of(parts[1]);
    event.at = from_millis(optional_number(fields, "at").value_or(0));
    event.type = optional_text(fields, "type").value_or("");
    event.job = optional_number(fields, "job").value_or(0);
    event.queue = optional_text(fields, "queue").value_or("");
    event.task = optional_text(fields, "task").value_or("");
    event.host = optional_text(fields, "host").value_or("");
    if (auto state = optional_text(fields, "state")) event.state = model::job_state_from_string(*state);
    event.attempt = static_cast<std::uint32_t>(optional_number(fields, "attempt").value_or(0));
    event.detail = optional_text(fields, "detail").value_or("");
    return event;
}

} // namespace sandhost::store::redis
