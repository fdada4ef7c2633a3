// `sandhost serve` and the API of `sandhost run`, as a user starts them: real processes on a
// free loopback port, called with a real HTTP client.
#include "test_support.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

namespace sandhost {
namespace {

namespace t = sandhost::testing;

const std::string k_token = "serve-test-token-0123456789";

// A loopback port nothing listens on now.
std::uint16_t free_port()
{
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    return socket.address().port();
}

struct Reply {
    int status = 0;
    std::string body;
};

Reply call(std::uint16_t port, const std::string& method, const std::string& path, const std::string& body = "")
{
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + k_token);
    if (method == "POST") request.setContentLength64(static_cast<Poco::Int64>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Reply reply{static_cast<int>(response.getStatus()), {}};
    Poco::StreamCopier::copyToString(in, reply.body);
    return reply;
}

bool answers(std::uint16_t port)
{
    try {
        return call(port, "GET", "/readyz").status == 200;
    } catch (const Poco::Exception&) {
        return false;
    }
}

class ServeCliTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        m_port = free_port();
        m_config = m_dir / "sandhost.yaml";
        write_config("127.0.0.1", true);
    }
    void TearDown() override
    {
        const auto leftovers = t::leftover_processes();
        EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
    }
    void write_config(const std::string& address, bool token)
    {
        std::ofstream(m_config) << "host:\n  name: serve-host\n  store: sqlite:jobs.db\n  plugin_dirs: [\"" << t::plugin_dir().string()
                                << "\"]\n  max_workers: 2\nqueues:\n  q: {tasks: [\"hello.*\"]}\napi:\n  listen: \"" << address << ":"
                                << m_port << "\"\n"
                                << (token ? "  token: \"" + k_token + "\"\n" : "");
    }
    std::unique_ptr<t::BackgroundCommand> start(const std::string& command) const
    {
        return std::make_unique<t::BackgroundCommand>(
            std::vector<std::string>{t::sandhost_executable().string(), command, "--config", m_config.string()});
    }
    static Poco::JSON::Object::Ptr json(const std::string& text)
    {
        Poco::JSON::Parser parser;
        return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    }

    t::TempDir m_dir;
    std::filesystem::path m_config;
    std::uint16_t m_port = 0;
};

TEST_F(ServeCliTest, ServeShowsTheStoreWithoutRunningJobsAndStopsOnSigterm)
{
    auto serve = start("serve");
    ASSERT_TRUE(t::eventually([&] { return answers(m_port); })) << serve->wait().err;
    const auto enqueued = call(m_port, "POST", "/api/v1/jobs", R"({"queue":"q","task":"hello.echo","payload":{"x":1}})");
    ASSERT_EQ(enqueued.status, 201) << enqueued.body;
    const auto id = json(enqueued.body)->getValue<std::int64_t>("id");
    // Nothing runs it here: it waits, and /metrics reads that from the store.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(json(call(m_port, "GET", "/api/v1/jobs/" + std::to_string(id)).body)->getValue<std::string>("state"), "waiting");
    EXPECT_NE(call(m_port, "GET", "/metrics").body.find("sandhost_jobs{queue=\"q\",state=\"waiting\"} 1\n"), std::string::npos);
    // The CLI sees the job the API stored.
    const auto shown = t::run_command({t::sandhost_executable().string(), "job", "show", std::to_string(id), "--json", "--config", m_config.string()});
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_EQ(json(shown.out)->getValue<std::int64_t>("id"), id);

    ::kill(serve->pid(), SIGTERM);
    const auto& ended = serve->wait();
    EXPECT_EQ(ended.exit_code, 0) << ended.err;
    EXPECT_NE(ended.err.find("api listening"), std::string::npos) << ended.err;
    EXPECT_FALSE(answers(m_port));
}

TEST_F(ServeCliTest, RunServesTheApiBesideItsHost)
{
    auto run = start("run");
    ASSERT_TRUE(t::eventually([&] { return answers(m_port); })) << run->wait().err;
    const auto enqueued = call(m_port, "POST", "/api/v1/jobs", R"({"queue":"q","task":"hello.echo","payload":{"x":1}})");
    ASSERT_EQ(enqueued.status, 201) << enqueued.body;
    const auto path = "/api/v1/jobs/" + std::to_string(json(enqueued.body)->getValue<std::int64_t>("id"));
    EXPECT_TRUE(t::eventually([&] { return json(call(m_port, "GET", path).body)->getValue<std::string>("state") == "completed"; }));
    const auto metrics = call(m_port, "GET", "/metrics").body;
    EXPECT_NE(metrics.find("sandhost_attempts_total{queue=\"q\",task=\"hello.echo\",outcome=\"succeeded\"} 1\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("sandhost_jobs_enqueued_total{queue=\"q\"} 1\n"), std::string::npos);
    ::kill(run->pid(), SIGTERM);
    const auto& ended = run->wait();
    EXPECT_EQ(ended.exit_code, 0) << ended.err;
}

TEST_F(ServeCliTest, ServeRefusesNoListenAddressAndAnOpenAddressWithoutAToken)
{
    std::ofstream(m_config) << "host:\n  name: serve-host\n  store: sqlite:jobs.db\nqueues:\n  q: {tasks: [\"hello.*\"]}\n";
    const auto nothing = t::run_command({t::sandhost_executable().string(), "serve", "--config", m_config.string()});
    EXPECT_EQ(nothing.exit_code, 2);
    EXPECT_NE(nothing.err.find("api.listen"), std::string::npos) << nothing.err;

    write_config("0.0.0.0", false);
    const auto open = t::run_command({t::sandhost_executable().string(), "serve", "--config", m_config.string()});
    EXPECT_NE(open.exit_code, 0);
    EXPECT_NE(open.err.find("token"), std::string::npos) << open.err;
    const auto validated = t::run_command({t::sandhost_executable().string(), "validate", "--config", m_config.string()});
    EXPECT_NE(validated.exit_code, 0);
    EXPECT_FALSE(answers(m_port));
}

} // namespace
} // namespace sandhost
