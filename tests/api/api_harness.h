// A host served in-process (HostHarness) with the HTTP API in front of it on a free loopback
// port, and a real HTTP client (Poco::Net::HTTPClientSession) to call it.
#pragma once

#include "api/server.h"
#include "host_harness.h"
#include "scheduler/counted_store.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>

namespace sandhost::testing {

inline const std::string k_api_token = "test-token-0123456789abcdef";

struct Reply {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;

    Poco::JSON::Object::Ptr json() const
    {
        Poco::JSON::Parser parser;
        return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    }
    std::string header(const std::string& name) const
    {
        const auto found = headers.find(name);
        return found == headers.end() ? std::string() : found->second;
    }
    // The error code of an error reply.
    std::string code() const { return json()->getObject("error")->getValue<std::string>("code"); }
    std::string message() const { return json()->getObject("error")->getValue<std::string>("message"); }
};

// One call on one connection; `session` keeps it open for the next.
inline Reply http_call(Poco::Net::HTTPClientSession& session, const std::string& method, const std::string& path,
                       const std::optional<std::string>& body = std::nullopt,
                       const std::optional<std::string>& token = k_api_token, const std::map<std::string, std::string>& headers = {})
{
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (token) request.set("Authorization", "Bearer " + *token);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (body) {
        request.setContentType("application/json");
        request.setContentLength64(static_cast<Poco::Int64>(body->size()));
    }
    std::ostream& out = session.sendRequest(request);
    if (body) out << *body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Reply reply;
    reply.status = static_cast<int>(response.getStatus());
    Poco::StreamCopier::copyToString(in, reply.body);
    for (const auto& [name, value] : response) reply.headers[name] = value;
    return reply;
}

class ApiHarness {
public:
    // The host.store of the harnesses made from now on ("sqlite:jobs.db" unless a test's
    // fixture runs it on another store, such as a redis-server of its own).
    static std::string& store_url()
    {
        static std::string url = "sqlite:jobs.db";
        return url;
    }

    // queues_yaml and extra as HostHarness takes them; api_yaml: the api section's members
    // beyond listen and token.
    explicit ApiHarness(const std::string& queues_yaml, const std::string& extra = "", const std::string& api_yaml = "",
                        bool with_token = true)
        : m_host(queues_yaml,
                 extra + "api:\n  listen: \"127.0.0.1:0\"\n" + (with_token ? "  token: \"" + k_api_token + "\"\n" : std::string()) +
                     api_yaml,
                 4, "", store_url())
    {
        auto loaded = config::load_config(m_host.config_file());
        if (!loaded.ok()) throw std::runtime_error("bad test config: " + loaded.errors.front().to_string());
        m_settings = loaded.settings;
        m_metrics = std::make_shared<scheduler::Metrics>();
        m_host.options().metrics = m_metrics;
    }
    ~ApiHarness() { stop(); }

    // Starts the host (unless `with_host` is false: the API alone, as `sandhost serve`), then the API.
    void start(bool with_host = true)
    {
        if (with_host) m_host.start();
        api::ApiOptions options;
        options.settings = m_settings;
        options.store = std::make_shared<scheduler::CountedStore>(scheduler::open_configured_store(m_settings->host), m_metrics);
        options.host = with_host ? &m_host.host() : nullptr;
        options.metrics = m_metrics;
        options.event_poll = std::chrono::milliseconds(20);
        m_server = std::make_unique<api::ApiServer>(std::move(options));
    }
    void stop()
    {
        if (m_server) m_server->stop();
        m_server.reset();
        m_host.stop();
    }

    HostHarness& host() { return m_host; }
    api::ApiServer& server() { return *m_server; }
    std::uint16_t port() const { return m_server->port(); }
    const std::shared_ptr<const config::Settings>& settings() const { return m_settings; }

    std::unique_ptr<Poco::Net::HTTPClientSession> session() const
    {
        auto session = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", port());
        session->setTimeout(Poco::Timespan(30, 0));
        return session;
    }
    Reply call(const std::string& method, const std::string& path, const std::optional<std::string>& body = std::nullopt,
               const std::optional<std::string>& token = k_api_token, const std::map<std::string, std::string>& headers = {}) const
    {
        auto s = session();
        return http_call(*s, method, path, body, token, headers);
    }
    Reply get(const std::string& path) const { return call("GET", path); }
    Reply post(const std::string& path, const std::string& body = "") const { return call("POST", path, body); }

    // Enqueues through the API; the id of the job (201 or 200 expected).
    std::int64_t enqueue(const std::string& body) const
    {
        const auto reply = post("/api/v1/jobs", body);
        EXPECT_TRUE(reply.status == 201 || reply.status == 200) << reply.status << " " << reply.body;
        return reply.json()->getValue<std::int64_t>("id");
    }
    Poco::JSON::Object::Ptr job(std::int64_t id) const
    {
        const auto reply = get("/api/v1/jobs/" + std::to_string(id));
        EXPECT_EQ(reply.status, 200) << reply.body;
        return reply.json();
    }
    // The job once the API shows it in a final state.
    Poco::JSON::Object::Ptr wait_final(std::int64_t id) const
    {
        Poco::JSON::Object::Ptr shown;
        const bool done = eventually([&] {
            shown = job(id);
            const auto state = shown->getValue<std::string>("state");
            return state == "completed" || state == "dead" || state == "cancelled";
        });
        EXPECT_TRUE(done) << "job " << id << " did not end";
        return shown;
    }
    std::size_t job_count()
    {
        store::JobFilter all;
        all.limit = 0;
        return m_host.store().list(all).size();
    }

private:
    HostHarness m_host;
    std::shared_ptr<const config::Settings> m_settings;
    std::shared_ptr<scheduler::Metrics> m_metrics;
    std::unique_ptr<api::ApiServer> m_server;
};

} // namespace sandhost::testing
