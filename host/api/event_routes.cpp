// /api/v1/events, the store's event feed as Server-Sent Events, resumable with Last-Event-ID;
// /api/v1/stats/attempts, attempts per minute by outcome for the dashboard's chart.
#include "api/routes.h"

#include "model/json_text.h"
#include "os/time_format.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <set>
#include <sstream>

namespace sandhost::api {
namespace {

// A stream with nothing to say writes a comment this often, so that proxies keep it open and
// a client that went away is noticed.
constexpr auto k_keep_alive = std::chrono::seconds(15);
constexpr std::size_t k_batch = 500;

std::string event_json(const store::Event& event)
{
    model::JsonObject json;
    json.number("id", event.id).text("at", os::format_utc(event.at)).text("type", event.type);
    if (event.job) json.number("job", event.job);
    if (!event.queue.empty()) json.text("queue", event.queue);
    if (!event.task.empty()) json.text("task", event.task);
    if (!event.host.empty()) json.text("host", event.host);
    if (event.state) json.text("state", model::to_string(*event.state));
    if (event.attempt) json.number("attempt", std::int64_t(event.attempt));
    if (event.type == "job.finished" && event.attempt) json.text("outcome", event.detail);
    if (!event.detail.empty()) json.text("detail", event.detail);
    return json.str();
}

std::int64_t event_id(const std::string& text, const char* what)
{
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || id < 0) {
        throw ApiError(400, "bad_request", std::string(what) + ": \"" + text + "\" is not an event id");
    }
    return id;
}

// Holds one of the event streams the server allows at once.
class StreamSlot {
public:
    explicit StreamSlot(Context& context) : m_context(context)
    {
        if (++m_context.event_streams > m_context.options.max_event_streams) {
            --m_context.event_streams;
            throw ApiError(503, "unavailable",
                           "too many event streams are open (" + std::to_string(m_context.options.max_event_streams) + "); try again later");
        }
    }
    ~StreamSlot() { --m_context.event_streams; }
    StreamSlot(const StreamSlot&) = delete;
    StreamSlot& operator=(const StreamSlot&) = delete;

private:
    Context& m_context;
};

} // namespace

void get_events(Context& context, Exchange& exchange)
{
    // Where to start: after the client's last event, else from now on.
    std::int64_t after = context.hub.newest();
    if (auto last = exchange.header("Last-Event-ID")) after = event_id(*last, "Last-Event-ID");
    else if (auto query = exchange.query("after")) after = event_id(*query, "after");
    std::set<std::string> types;
    if (auto wanted = exchange.query("types")) {
        std::stringstream list(*wanted);
        for (std::string type; std::getline(list, type, ',');) {
            if (!type.empty()) types.insert(type);
        }
    }
    const auto queue = exchange.query("queue");
    StreamSlot slot(context);

    auto& response = exchange.response();
    response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("text/event-stream; charset=utf-8");
    response.setChunkedTransferEncoding(true);
    response.set("Cache-Control", "no-store");
    response.set("X-Accel-Buffering", "no");  // a proxy in front must not hold the stream back
    std::ostream& out = response.send();
    out << "retry: 2000\n: sandhost events after " << after << "\n\n";
    out.flush();
    auto last_write = std::chrono::steady_clock::now();
    while (out.good()) {
        EventHub::Batch batch;
        try {
            batch = context.hub.next(after, k_batch, std::chrono::seconds(1));
        } catch (const std::exception& e) {
            // The store is down: say so and go on waiting.
            out << "event: store.error\ndata: " << model::JsonObject().text("message", e.what()).str() << "\n\n";
            out.flush();
            std::this_thread::sleep_for(std::chrono::seconds(1));
            continue;
        }
        if (batch.stopped) break;
        if (batch.gap) {
            const std::int64_t next = batch.events.empty() ? context.hub.newest() : batch.events.front().id - 1;
            out << "event: gap\ndata: " << model::JsonObject().number("after", after).number("next", next + 1).str() << "\n\n";
            after = next;
        }
        for (const auto& event : batch.events) {
            after = event.id;
            if (!types.empty() && !types.count(event.type)) continue;
            if (queue && event.queue != *queue) continue;
            out << "id: " << event.id << "\nevent: " << event.type << "\ndata: " << event_json(event) << "\n\n";
        }
        const auto now = std::chrono::steady_clock::now();
        if (batch.events.empty() && !batch.gap) {
            if (now - last_write < k_keep_alive) continue;
            out << ": keep-alive\n\n";
        }
        out.flush();
        last_write = now;
    }
    spdlog::debug("api: event stream ended after event {}", after);
}

void get_attempt_stats(Context& context, Exchange& exchange)
{
    int minutes = 60;
    if (auto text = exchange.query("minutes")) {
        const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), minutes);
        if (ec != std::errc() || end != text->data() + text->size() || minutes < 1 || minutes > 60) {
            throw ApiError(400, "bad_request", "minutes: expected a number from 1 to 60, got \"" + *text + "\"");
        }
    }
    std::string list = "[";
    for (const auto& minute : context.hub.attempts_per_minute(std::chrono::system_clock::now(), minutes)) {
        model::JsonObject outcomes;
        for (const auto& [outcome, count] : minute.outcomes) outcomes.number(outcome, static_cast<std::int64_t>(count));
        list += (list.size() > 1 ? "," : "") +
                model::JsonObject().text("start", os::format_utc(minute.start)).raw("outcomes", outcomes.str()).str();
    }
    exchange.reply_json(200, model::JsonObject().raw("minutes", list + "]").str());
}

} // namespace sandhost::api
