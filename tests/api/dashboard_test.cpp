// The dashboard in a real browser: headless Chromium loads it from a real host's API, the test
// reads what it rendered (--dump-dom), then drives it over the DevTools protocol to cancel a
// job with its button, and keeps a screenshot. Skipped, saying why, where Chromium is absent.
#include "api_harness.h"
#include "model/json_text.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/WebSocket.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

namespace sandhost::api {
namespace {

using namespace std::chrono_literals;
using testing::ApiHarness;
namespace t = sandhost::testing;

std::optional<std::string> chromium()
{
    for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
        if (std::filesystem::exists(path)) return std::string(path);
    }
    return std::nullopt;
}

std::vector<std::string> browser_args(const std::string& binary, const std::filesystem::path& profile)
{
    // --no-sandbox: CI runs the tests as root, where Chromium's own sandbox cannot start.
    return {binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--user-data-dir=" + profile.string()};
}

// Children that outlived the browser (its helpers land on this process, a subreaper) are reaped.
bool reaped_all()
{
    int status = 0;
    while (::waitpid(-1, &status, WNOHANG) > 0) {
    }
    return t::leftover_processes().empty();
}

// A DevTools protocol session over the page's WebSocket: one call at a time.
class DevTools {
public:
    DevTools(std::uint16_t port, const std::string& path) : m_session("127.0.0.1", port)
    {
        Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
        Poco::Net::HTTPResponse response;
        m_socket = std::make_unique<Poco::Net::WebSocket>(m_session, request, response);
        m_socket->setReceiveTimeout(Poco::Timespan(30, 0));
        m_socket->setMaxPayloadSize(64 << 20);
    }
    // The result of method(params), as JSON.
    Poco::JSON::Object::Ptr call(const std::string& method, const std::string& params)
    {
        const int id = ++m_id;
        const std::string message = "{\"id\":" + std::to_string(id) + ",\"method\":\"" + method + "\",\"params\":" + params + "}";
        m_socket->sendFrame(message.data(), static_cast<int>(message.size()));
        for (;;) {
            Poco::Buffer<char> buffer(0);
            int flags = 0;
            if (m_socket->receiveFrame(buffer, flags) <= 0) throw std::runtime_error(method + ": the browser closed the connection");
            Poco::JSON::Parser parser;
            const auto reply = parser.parse(std::string(buffer.begin(), buffer.size())).extract<Poco::JSON::Object::Ptr>();
            if (!reply->has("id") || reply->getValue<int>("id") != id) continue;  // an event
            if (reply->has("error")) throw std::runtime_error(method + ": " + reply->getObject("error")->getValue<std::string>("message"));
            return reply->getObject("result");
        }
    }
    // Evaluates a JavaScript expression in the page (promises awaited); its value as text.
    std::string evaluate(const std::string& expression)
    {
        const auto result = call("Runtime.evaluate", model::JsonObject()
                                                         .text("expression", expression)
                                                         .boolean("awaitPromise", true)
                                                         .boolean("returnByValue", true)
                                                         .str());
        if (result->has("exceptionDetails")) return "exception: " + result->getObject("exceptionDetails")->getValue<std::string>("text");
        return result->getObject("result")->getValue<std::string>("value");
    }

private:
    Poco::Net::HTTPClientSession m_session;
    std::unique_ptr<Poco::Net::WebSocket> m_socket;
    int m_id = 0;
};

class DashboardTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        m_chromium = chromium();
        if (!m_chromium) GTEST_SKIP() << "chromium is not installed (Debian: apt-get install chromium); the dashboard is not tested";
    }
    void TearDown() override
    {
        if (!m_chromium) return;
        EXPECT_TRUE(t::eventually(reaped_all, 10s)) << ::testing::PrintToString(t::leftover_processes());
    }
    std::optional<std::string> m_chromium;
};

TEST_F(DashboardTest, TheFirstRenderShowsQueuesAndJobsFromTheApi)
{
    t::TempDir profile;
    std::string dom;
    {
        ApiHarness api("  default:\n    tasks: [\"misbehave.*\"]\n  held:\n    tasks: [\"misbehave.echo\"]\n");
        api.start();
        const auto done = api.enqueue(R"({"queue":"default","task":"misbehave.echo","payload":{"word":"hello"}})");
        api.wait_final(done);
        ASSERT_EQ(api.post("/api/v1/queues/held/pause").status, 200);
        const auto waiting = api.enqueue(R"({"queue":"held","task":"misbehave.echo","payload":{}})");

        auto args = browser_args(*m_chromium, profile.path());
        args.insert(args.end(), {"--virtual-time-budget=10000", "--dump-dom",
                                 "http://127.0.0.1:" + std::to_string(api.port()) + "/#token=" + t::k_api_token});
        const auto browser = t::run_command(args);
        ASSERT_EQ(browser.exit_code, 0) << browser.err;
        dom = browser.out;
        EXPECT_NE(dom.find("data-ready=\"true\""), std::string::npos) << dom;
        // The queues with their counts, the paused one said so.
        EXPECT_NE(dom.find("<tr data-queue=\"default\">"), std::string::npos) << dom;
        EXPECT_NE(dom.find("<tr data-queue=\"held\">"), std::string::npos);
        EXPECT_NE(dom.find("paused"), std::string::npos);
        // The paused queue's job waits: its latency shows, with when it came due; the other
        // queue has nothing due.
        const auto held_row = dom.substr(dom.find("<tr data-queue=\"held\">"));
        const auto held_latency = held_row.find("<td class=\"number latency\" title=\"earliest due ");
        EXPECT_NE(held_latency, std::string::npos) << held_row;
        EXPECT_LT(held_latency, held_row.find("</tr>")) << held_row;
        const auto default_row = dom.substr(dom.find("<tr data-queue=\"default\">"));
        EXPECT_LT(default_row.find("<td class=\"number latency\" title=\"\">\u2013</td>"), default_row.find("</tr>")) << default_row;
        // Both jobs, each in its state, and the waiting one with a cancel button.
        EXPECT_NE(dom.find("<tr data-job=\"" + std::to_string(done) + "\" data-state=\"completed\">"), std::string::npos) << dom;
        EXPECT_NE(dom.find("<tr data-job=\"" + std::to_string(waiting) + "\" data-state=\"waiting\">"), std::string::npos);
        EXPECT_NE(dom.find("class=\"cancel danger\" data-job=\"" + std::to_string(waiting) + "\""), std::string::npos);
        EXPECT_NE(dom.find("misbehave.echo"), std::string::npos);
        // Nothing asked for the token again, no error shown.
        EXPECT_NE(dom.find("<section id=\"login\" hidden=\"\">"), std::string::npos);
        EXPECT_NE(dom.find("<p id=\"error\" class=\"error banner\" hidden=\"\">"), std::string::npos);
    }
}

TEST_F(DashboardTest, WithoutTheTokenItAsksForIt)
{
    t::TempDir profile;
    ApiHarness api("  default:\n    tasks: [\"misbehave.*\"]\n");
    api.start(false);
    auto args = browser_args(*m_chromium, profile.path());
    args.insert(args.end(), {"--virtual-time-budget=5000", "--dump-dom", "http://127.0.0.1:" + std::to_string(api.port()) + "/"});
    const auto browser = t::run_command(args);
    ASSERT_EQ(browser.exit_code, 0) << browser.err;
    EXPECT_NE(browser.out.find("<section id=\"login\">"), std::string::npos) << browser.out;
    EXPECT_EQ(browser.out.find("<tr data-job="), std::string::npos);
}

// Cancel, Retry dead, Run now (a delayed job, a schedule) and Cancel pending.
TEST_F(DashboardTest, ItsButtonsActOnTheStore)
{
    t::TempDir profile;
    // The API alone (as `sandhost serve`): a waiting job needs no host to be cancelled.
    ApiHarness api("  held:\n    tasks: [\"misbehave.echo\"]\n",
                   "schedules:\n  - {name: tick, queue: held, task: misbehave.echo, payload: {n: 3}, every: 1h}\n");
    api.start(false);
    ASSERT_EQ(api.post("/api/v1/queues/held/pause").status, 200);
    const auto id = api.enqueue(R"({"queue":"held","task":"misbehave.echo","payload":{}})");
    const std::string url = "http://127.0.0.1:" + std::to_string(api.port()) + "/#token=" + t::k_api_token;

    auto args = browser_args(*m_chromium, profile.path());
    args.insert(args.end(), {"--remote-debugging-port=0", "--window-size=1280,900", url});
    t::BackgroundCommand browser(args);
    // Chromium writes the port it listens on, and its browser endpoint, into the profile.
    std::string port_text;
    std::string browser_path;
    ASSERT_TRUE(t::eventually(
        [&] {
            std::ifstream file(profile / "DevToolsActivePort");
            return std::getline(file, port_text) && std::getline(file, browser_path) && !browser_path.empty();
        },
        30s))
        << [&] {
               std::string listing;
               for (const auto& entry : std::filesystem::directory_iterator(profile.path())) listing += entry.path().filename().string() + " ";
               ::kill(browser.pid(), SIGTERM);
               const auto& ended = browser.wait();
               return listing + "\nexit " + std::to_string(ended.exit_code) + " signal " + std::to_string(ended.signal_number) + "\n" + ended.err;
           }();
    const auto devtools_port = static_cast<std::uint16_t>(std::stoi(port_text));
    // The page's endpoint.
    std::string page_path;
    ASSERT_TRUE(t::eventually(
        [&] {
            Poco::Net::HTTPClientSession session("127.0.0.1", devtools_port);
            const auto reply = t::http_call(session, "GET", "/json/list", std::nullopt, std::nullopt);
            Poco::JSON::Parser parser;
            const auto targets = parser.parse(reply.body).extract<Poco::JSON::Array::Ptr>();
            for (std::size_t i = 0; i < targets->size(); ++i) {
                const auto target = targets->getObject(static_cast<unsigned>(i));
                if (target->getValue<std::string>("type") != "page") continue;
                const auto ws = target->getValue<std::string>("webSocketDebuggerUrl");
                page_path = ws.substr(ws.find('/', ws.find("//") + 2));
                return true;
            }
            return false;
        },
        30s));
    {
        DevTools page(devtools_port, page_path);
        const std::string button = "document.querySelector('button.cancel[data-job=\"" + std::to_string(id) + "\"]')";
        const auto wait_for = [&](const std::string& condition) {
            return t::eventually([&] { return page.evaluate("String(!!(" + condition + "))") == "true"; }, 20s);
        };
        ASSERT_TRUE(wait_for("document.body.dataset.ready === 'true' && " + button)) << page.evaluate("document.body.outerHTML");
        EXPECT_EQ(page.evaluate("(() => { " + button + ".click(); return 'clicked'; })()"), "clicked");
        // The row turns cancelled, from the reply and the event stream; the store says so too.
        EXPECT_TRUE(wait_for("document.querySelector('tr[data-job=\"" + std::to_string(id) + "\"][data-state=\"cancelled\"]')"))
            << page.evaluate("document.querySelector('#jobs').outerHTML");
        EXPECT_EQ(api.job(id)->getValue<std::string>("state"), "cancelled");
        EXPECT_TRUE(wait_for("document.querySelector('tr[data-queue=\"held\"] td[data-state=\"cancelled\"]').textContent === '1'"));

        // A job that depends on the cancelled one is dead from the start; once its dependency
        // runs again, the queue's Retry dead button sends it back to wait for it.
        const auto dependent =
            api.enqueue(R"({"queue":"held","task":"misbehave.echo","payload":{},"depends_on":[)" + std::to_string(id) + "]}");
        ASSERT_EQ(api.job(dependent)->getValue<std::string>("state"), "dead");
        ASSERT_EQ(api.post("/api/v1/jobs/" + std::to_string(id) + "/retry").status, 200);
        const std::string retry_dead = "document.querySelector('tr[data-queue=\"held\"] button.retry-dead')";
        ASSERT_TRUE(wait_for(retry_dead)) << page.evaluate("document.querySelector('#queues').outerHTML");
        EXPECT_EQ(page.evaluate("(() => { " + retry_dead + ".click(); return 'clicked'; })()"), "clicked");
        EXPECT_TRUE(wait_for("document.querySelector('tr[data-queue=\"held\"] td[data-state=\"blocked\"]').textContent === '1' && !" +
                             retry_dead))
            << page.evaluate("document.querySelector('#queues').outerHTML");
        EXPECT_EQ(api.job(dependent)->getValue<std::string>("state"), "blocked");

        // A delayed job's Run now button lets it wait for a worker at once (its queue is paused).
        const auto later = api.enqueue(R"({"queue":"held","task":"misbehave.echo","payload":{},"delay":"1h"})");
        const std::string run_now = "document.querySelector('button.promote[data-job=\"" + std::to_string(later) + "\"]')";
        ASSERT_TRUE(wait_for(run_now)) << page.evaluate("document.querySelector('#jobs').outerHTML");
        EXPECT_EQ(page.evaluate("(() => { " + run_now + ".click(); return 'clicked'; })()"), "clicked");
        EXPECT_TRUE(wait_for("document.querySelector('tr[data-job=\"" + std::to_string(later) + "\"][data-state=\"waiting\"]') && !" + run_now))
            << page.evaluate("document.querySelector('#jobs').outerHTML");
        EXPECT_EQ(api.job(later)->getValue<std::string>("state"), "waiting");

        // Cancel pending asks first: declined, nothing changes; accepted, the queue's jobs that
        // had not started are cancelled, and the blocked dependent of one of them dies with it.
        const std::string cancel_pending = "document.querySelector('tr[data-queue=\"held\"] button.cancel-pending')";
        ASSERT_TRUE(wait_for(cancel_pending)) << page.evaluate("document.querySelector('#queues').outerHTML");
        EXPECT_EQ(page.evaluate("(() => { window.confirm = () => false; " + cancel_pending + ".click(); return 'clicked'; })()"), "clicked");
        EXPECT_TRUE(wait_for("!" + cancel_pending + ".disabled"));
        EXPECT_EQ(api.job(later)->getValue<std::string>("state"), "waiting") << "declined";
        EXPECT_EQ(page.evaluate("(() => { window.confirm = () => true; " + cancel_pending + ".click(); return 'clicked'; })()"), "clicked");
        EXPECT_TRUE(wait_for("document.querySelector('tr[data-job=\"" + std::to_string(later) + "\"][data-state=\"cancelled\"]') && !" +
                             cancel_pending))
            << page.evaluate("document.querySelector('#queues').outerHTML");
        EXPECT_EQ(api.job(later)->getValue<std::string>("state"), "cancelled");
        EXPECT_EQ(api.job(id)->getValue<std::string>("state"), "cancelled");
        EXPECT_EQ(api.job(dependent)->getValue<std::string>("state"), "dead");

        // A finished job's Delete asks first, then deletes it with its record: its row goes.
        const std::string remove = "document.querySelector('button.delete[data-job=\"" + std::to_string(later) + "\"]')";
        ASSERT_TRUE(wait_for(remove)) << page.evaluate("document.querySelector('#jobs').outerHTML");
        EXPECT_EQ(page.evaluate("(() => { window.confirm = () => false; " + remove + ".click(); return 'clicked'; })()"), "clicked");
        EXPECT_EQ(api.get("/api/v1/jobs/" + std::to_string(later)).status, 200) << "declined";
        EXPECT_EQ(page.evaluate("(() => { window.confirm = () => true; " + remove + ".click(); return 'clicked'; })()"), "clicked");
        EXPECT_TRUE(wait_for("!document.querySelector('tr[data-job=\"" + std::to_string(later) + "\"]')"))
            << page.evaluate("document.querySelector('#jobs').outerHTML");
        EXPECT_EQ(api.get("/api/v1/jobs/" + std::to_string(later)).status, 404);

        // A schedule's Run now enqueues its job and says which.
        EXPECT_EQ(page.evaluate("(() => { document.querySelector('a[data-tab=\"schedules\"]').click(); return 'clicked'; })()"), "clicked");
        const std::string run_schedule = "document.querySelector('button.run-schedule[data-schedule=\"tick\"]')";
        ASSERT_TRUE(wait_for(run_schedule)) << page.evaluate("document.querySelector('#schedules').outerHTML");
        EXPECT_EQ(page.evaluate("(() => { " + run_schedule + ".click(); return 'clicked'; })()"), "clicked");
        ASSERT_TRUE(wait_for(run_schedule + ".textContent.startsWith('Enqueued job ')")) << page.evaluate("document.querySelector('#schedules').outerHTML");
        const auto enqueued = std::stoll(page.evaluate(run_schedule + ".textContent.slice('Enqueued job '.length)"));
        EXPECT_EQ(api.job(enqueued)->getValue<std::string>("schedule"), "tick");
        EXPECT_EQ(api.job(enqueued)->getObject("payload")->getValue<int>("n"), 3);
        EXPECT_EQ(page.evaluate("(() => { document.querySelector('a[data-tab=\"jobs\"]').click(); return 'clicked'; })()"), "clicked");
        EXPECT_TRUE(wait_for("!document.querySelector('#tab-jobs').hidden"));
        EXPECT_EQ(page.evaluate("document.querySelector('#error').hidden ? 'no error' : document.querySelector('#error').textContent"), "no error");

        // A screenshot for CI to keep (SANDHOST_SCREENSHOT_DIR, else the test's build folder).
        const auto shot = page.call("Page.captureScreenshot", "{\"format\":\"png\"}");
        std::istringstream encoded(shot->getValue<std::string>("data"));
        Poco::Base64Decoder decoder(encoded);
        const char* dir = std::getenv("SANDHOST_SCREENSHOT_DIR");
        const std::filesystem::path out = std::filesystem::path(dir ? dir : ".") / "dashboard.png";
        std::ofstream(out, std::ios::binary) << decoder.rdbuf();
        EXPECT_GT(std::filesystem::file_size(out), 1000u);
    }
    try {
        DevTools(devtools_port, browser_path).call("Browser.close", "{}");
    } catch (const std::exception&) {
        // The browser may be gone before its answer is read.
    }
    const auto& ended = browser.wait();
    EXPECT_EQ(ended.exit_code, 0) << ended.err;
}

} // namespace
} // namespace sandhost::api
