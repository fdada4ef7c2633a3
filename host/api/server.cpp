#include "api/server.h"

#include "api/context.h"
#include "api/routes.h"
#include "model/version.h"
#include "scheduler/event_log.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

namespace sandhost::api {
namespace {

using spdlog::level::level_enum;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

// How long a refused body's client may go on sending after the 413, so that it reads the reply
// rather than a reset connection, and how much of it is thrown away at most.
constexpr auto k_drain_time = std::chrono::seconds(2);
constexpr std::size_t k_drain_bytes = 64 << 20;

bool token_ok(const Exchange& exchange, const std::string& token)
{
    const auto header = exchange.header("Authorization");
    if (!header || header->size() < 7) return false;
    std::string scheme = header->substr(0, 7);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return scheme == "bearer " && constant_time_equal(std::string_view(*header).substr(7), token);
}

bool matches(const Route& route, const std::vector<std::string>& path)
{
    if (route.pattern.size() != path.size()) return false;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (route.pattern[i] != "*" && route.pattern[i] != path[i]) return false;
    }
    return true;
}

// Every request but a refused body: route, check the token, run the handler, turn what it
// throws into an error reply.
class Dispatcher final : public Poco::Net::HTTPRequestHandler {
public:
    explicit Dispatcher(Context& context) : m_context(context) {}

    void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override
    {
        const auto settings = m_context.settings();
        std::optional<Exchange> exchange;
        try {
            exchange.emplace(request, response, settings->api.max_body);
            dispatch(*exchange, *settings);
        } catch (const ApiError& e) {
            reply(request, response, exchange, e);
        } catch (const store::StoreError& e) {
            spdlog::warn("api: {} {}: store: {}", request.getMethod(), request.getURI(), e.what());
            reply(request, response, exchange, ApiError(503, "unavailable", std::string("the store failed: ") + e.what()));
        } catch (const std::exception& e) {
            spdlog::error("api: {} {}: {}", request.getMethod(), request.getURI(), e.what());
            reply(request, response, exchange, ApiError(500, "internal", e.what()));
        }
    }

private:
    void dispatch(Exchange& exchange, const config::Settings& settings)
    {
        std::vector<std::string> allowed;
        for (const Route& route : routes()) {
            if (!matches(route, exchange.path())) continue;
            if (route.method != exchange.method()) {
                allowed.emplace_back(route.method);
                continue;
            }
            const bool needs_token = route.access == Route::Access::token ||
                                     (route.access == Route::Access::metrics && settings.api.metrics_auth);
            if (needs_token && settings.api.token && !token_ok(exchange, *settings.api.token)) {
                throw ApiError(401, "unauthorized",
                               exchange.header("Authorization") ? "the bearer token is not the API's token"
                                                                : "this call needs an Authorization: Bearer TOKEN header");
            }
            route.handler(m_context, exchange);
            return;
        }
        if (!allowed.empty()) {
            std::string list;
            for (const auto& method : allowed) list += (list.empty() ? "" : ", ") + method;
            exchange.response().set("Allow", list);
            throw ApiError(405, "method_not_allowed", exchange.method() + " is not allowed here (" + list + ")");
        }
        throw ApiError(404, "not_found", "nothing at " + exchange.request().getURI());
    }

    void reply(HTTPServerRequest& request, HTTPServerResponse& response, std::optional<Exchange>& exchange, const ApiError& error)
    {
        if (error.status() >= 500 || error.status() == 413) spdlog::warn("api: {} {}: {} {}", request.getMethod(), request.getURI(), error.status(), error.what());
        if (response.sent()) return;  // a stream that broke off: nothing more can be said
        if (!exchange) {
            // The request did not read as one: answer without the helpers.
            response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(error.status()));
            response.setContentType("application/json");
            response.send() << error_json(error.code(), error.what()) << "\n";
            return;
        }
        exchange->reply_error(error);
    }

    Context& m_context;
};

// A request whose declared body is larger than api.max_body, answered 413 without reading it.
// Poco sends "100 Continue" only while the response is still 200, and the factory has set it to
// 413: a client that waits for the 100 (curl does for large bodies) sends nothing more. One that
// does not wait has its body thrown away for a moment after the reply, so that it reads the
// reply rather than a reset connection.
class TooLarge final : public Poco::Net::HTTPRequestHandler {
public:
    explicit TooLarge(std::uint64_t max_body) : m_max_body(max_body) {}

    void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override
    {
        spdlog::warn("api: {} {}: 413, {} bytes declared, api.max_body is {}", request.getMethod(), request.getURI(),
                     request.getContentLength64(), m_max_body);
        response.setKeepAlive(false);
        response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE);
        response.setContentType("application/json");
        const std::string body =
            error_json("payload_too_large", "the request body (" + std::to_string(request.getContentLength64()) +
                                                " bytes) is larger than api.max_body (" + std::to_string(m_max_body) + " bytes)") +
            "\n";
        response.setContentLength64(static_cast<Poco::Int64>(body.size()));
        response.send() << body << std::flush;
        if (request.getExpectContinue()) return;
        try {
            auto& socket = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
            socket.shutdownSend();
            socket.setReceiveTimeout(Poco::Timespan(0, 200'000));
            const auto deadline = std::chrono::steady_clock::now() + k_drain_time;
            char buffer[65536];
            std::size_t drained = 0;
            while (drained < k_drain_bytes && std::chrono::steady_clock::now() < deadline) {
                const int n = socket.receiveBytes(buffer, sizeof buffer);
                if (n <= 0) break;
                drained += static_cast<std::size_t>(n);
            }
        } catch (const Poco::Exception&) {
            // The client went away: nothing more to do.
        }
    }

private:
    std::uint64_t m_max_body;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Factory(Context& context) : m_context(context) {}

    Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest& request) override
    {
        const std::uint64_t max_body = m_context.settings()->api.max_body;
        if (request.hasContentLength() && request.getContentLength64() > static_cast<Poco::Int64>(max_body)) {
            request.response().setStatus(Poco::Net::HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE);
            return new TooLarge(max_body);
        }
        return new Dispatcher(m_context);
    }

private:
    Context& m_context;
};

Poco::Net::Context::Ptr tls_context(const config::TlsFiles& files)
{
    static std::once_flag initialized;
    std::call_once(initialized, [] { Poco::Net::initializeSSL(); });
    try {
        Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, files.key.string(), files.cert.string(), "",
                                                                 Poco::Net::Context::VERIFY_NONE);
        context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 | Poco::Net::Context::PROTO_TLSV1 |
                                  Poco::Net::Context::PROTO_TLSV1_1);
        return context;
    } catch (const Poco::Exception& e) {
        throw ApiStartError("api.tls: cannot use " + files.cert.string() + " and " + files.key.string() + ": " + e.displayText());
    }
}

} // namespace

struct ApiServer::Impl {
    explicit Impl(ApiOptions options) : context(std::move(options)), pool(1, static_cast<int>(context.options.max_threads)) {}

    Context context;
    Poco::ThreadPool pool;  // before the server: it is destroyed after the server that uses it
    std::unique_ptr<Poco::Net::HTTPServer> server;
    std::string url;
    std::uint16_t port = 0;
    std::mutex mutex;
    bool stopped = false;
};

ApiServer::ApiServer(ApiOptions options) : m_impl(std::make_unique<Impl>(std::move(options)))
{
    Context& context = m_impl->context;
    const config::ApiSettings& api = context.options.settings->api;
    if (!api.listen) throw ApiStartError("api.listen is not set");
    const std::string where = api.listen->to_string();
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    try {
        const Poco::Net::SocketAddress address(api.listen->host, api.listen->port);
        if (api.tls) socket = std::make_unique<Poco::Net::SecureServerSocket>(tls_context(*api.tls));
        else socket = std::make_unique<Poco::Net::ServerSocket>();
        socket->bind(address, true, false);  // SO_REUSEADDR, never SO_REUSEPORT: a taken port is refused
        socket->listen(64);
    } catch (const ApiStartError&) {
        throw;
    } catch (const Poco::Exception& e) {
        throw ApiStartError("api.listen " + where + ": cannot listen: " + e.displayText());
    }
    // The loader refused a non-loopback address without a token; a name may still resolve
    // to one, and only the bound address tells.
    if (!api.token && !socket->address().host().isLoopback()) {
        throw ApiStartError("api.listen " + where + " is bound to " + socket->address().toString() +
                            ", not a loopback address, and no api.token is set: anyone who can reach it could run jobs");
    }
    m_impl->port = socket->address().port();
    const std::string host = socket->address().host().toString();
    m_impl->url = std::string(api.tls ? "https" : "http") + "://" +
                  (socket->address().family() == Poco::Net::AddressFamily::IPv6 ? "[" + host + "]" : host) + ":" +
                  std::to_string(m_impl->port);

    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(static_cast<int>(context.options.max_threads));
    params->setMaxQueued(256);
    params->setTimeout(Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(context.options.socket_timeout).count()));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(5, 0));
    params->setSoftwareVersion(std::string("sandhost/") + model::version());
    context.hub.start();
    m_impl->server = std::make_unique<Poco::Net::HTTPServer>(new Factory(context), m_impl->pool, *socket, params);
    m_impl->server->start();
    scheduler::log_event(level_enum::info, "api listening",
                         {{"url", m_impl->url}, {"token", std::string(api.token ? "required" : "none")}, {"tls", api.tls.has_value()}});
}

ApiServer::~ApiServer() { stop(); }

std::uint16_t ApiServer::port() const { return m_impl->port; }

std::string ApiServer::url() const { return m_impl->url; }

void ApiServer::reload(std::shared_ptr<const config::Settings> settings)
{
    const auto& before = m_impl->context.options.settings->api;
    if (!(settings->api.listen == before.listen) || !(settings->api.tls == before.tls)) {
        spdlog::warn("reload: api.listen and api.tls apply at the next start; the API stays at {}", m_impl->url);
    }
    m_impl->context.set_settings(std::move(settings));
}

void ApiServer::stop()
{
    std::lock_guard lock(m_impl->mutex);
    if (m_impl->stopped) return;
    m_impl->stopped = true;
    m_impl->context.hub.stop();  // ends every event stream
    if (m_impl->server) m_impl->server->stopAll(true);
    m_impl->pool.joinAll();
    m_impl->server.reset();
}

} // namespace sandhost::api
