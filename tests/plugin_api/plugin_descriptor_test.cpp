// Loads each built plugin in this process the way the worker does (RTLD_NOW | RTLD_LOCAL),
// checks its descriptor, and runs its harmless tasks through a services table that records every
// call. Tasks that crash, hang or leak are exercised by the runner's tests in real workers only.
#include "recording_services.h"

#include <sandhost/plugin.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

// A plugin library loaded for one test, closed when the test ends.
class PluginLibrary {
public:
    explicit PluginLibrary(const char* path) : m_handle(::dlopen(path, RTLD_NOW | RTLD_LOCAL))
    {
        if (m_handle == nullptr) {
            const char* reason = ::dlerror();
            m_load_error = reason != nullptr ? reason : "unknown dlopen error";
        }
    }
    ~PluginLibrary()
    {
        if (m_handle != nullptr) {
            ::dlclose(m_handle);
        }
    }
    PluginLibrary(const PluginLibrary&) = delete;
    PluginLibrary& operator=(const PluginLibrary&) = delete;

    bool loaded() const { return m_handle != nullptr; }
    const std::string& load_error() const { return m_load_error; }

    // The descriptor sh_plugin_entry returns, or nullptr when the symbol is missing.
    const sh_plugin_t* descriptor() const
    {
        void* symbol = ::dlsym(m_handle, SH_ENTRY_SYMBOL);
        if (symbol == nullptr) {
            return nullptr;
        }
        return reinterpret_cast<sh_entry_fn>(symbol)();
    }

    std::vector<std::string> task_names() const
    {
        std::vector<std::string> names;
        const sh_plugin_t* plugin = descriptor();
        for (std::size_t i = 0; i < plugin->task_count; ++i) {
            names.emplace_back(plugin->tasks[i].name);
        }
        return names;
    }

    // The task called name, or nullptr.
    const sh_task_t* task(std::string_view name) const
    {
        const sh_plugin_t* plugin = descriptor();
        for (std::size_t i = 0; i < plugin->task_count; ++i) {
            if (name == plugin->tasks[i].name) {
                return &plugin->tasks[i];
            }
        }
        return nullptr;
    }

private:
    void* m_handle;
    std::string m_load_error;
};

struct TaskRun {
    sh_status_t status = SH_STATUS_ERROR;
    sh_context record;
};

// Runs a task with payload (passed NUL-terminated, as the host does) and records what it did.
TaskRun run_task(const PluginLibrary& library, std::string_view task_name, const std::string& payload,
                 std::size_t result_cap = SIZE_MAX, bool cancel = false)
{
    TaskRun run;
    run.record.result_cap = result_cap;
    run.record.cancel = cancel;
    const sh_task_t* task = library.task(task_name);
    if (task == nullptr) {
        ADD_FAILURE() << "no task " << task_name;
        return run;
    }
    run.status = task->run(&k_recording_services, &run.record, payload.c_str(), payload.size());
    return run;
}

Poco::JSON::Object::Ptr parse_object(const std::string& text)
{
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

bool valid_name(const std::string& name)
{
    if (name.empty()) {
        return false;
    }
    for (const char c : name) {
        const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!allowed) {
            return false;
        }
    }
    return true;
}

class PluginTest : public ::testing::Test {
protected:
    void expect_descriptor(const PluginLibrary& library, const char* name, const std::vector<std::string>& tasks)
    {
        ASSERT_TRUE(library.loaded()) << library.load_error();
        const sh_plugin_t* plugin = library.descriptor();
        ASSERT_NE(plugin, nullptr) << SH_ENTRY_SYMBOL << " is not exported";
        EXPECT_EQ(plugin->abi_version, SH_ABI_VERSION);
        EXPECT_GE(plugin->struct_size, SH_PLUGIN_MIN_SIZE);
        EXPECT_EQ(plugin->struct_size, sizeof(sh_plugin_t));
        EXPECT_EQ(plugin->task_size, sizeof(sh_task_t));
        ASSERT_NE(plugin->name, nullptr);
        EXPECT_STREQ(plugin->name, name);
        ASSERT_NE(plugin->version, nullptr);
        EXPECT_STRNE(plugin->version, "");
        EXPECT_EQ(library.task_names(), tasks);
        for (std::size_t i = 0; i < plugin->task_count; ++i) {
            const sh_task_t& task = plugin->tasks[i];
            EXPECT_TRUE(valid_name(task.name)) << task.name;
            ASSERT_NE(task.description, nullptr) << task.name;
            EXPECT_STRNE(task.description, "") << task.name;
            EXPECT_NE(task.run, nullptr) << task.name;
        }
        // The entry point hands out the same static descriptor every time.
        EXPECT_EQ(library.descriptor(), plugin);
    }

    PluginLibrary m_misbehave{SANDHOST_TEST_PLUGIN_MISBEHAVE};
    PluginLibrary m_hello{SANDHOST_TEST_PLUGIN_HELLO};
    PluginLibrary m_legacy{SANDHOST_TEST_PLUGIN_LEGACY_C};
};

TEST_F(PluginTest, MisbehaveDescriptorListsEveryTask)
{
    expect_descriptor(m_misbehave, "misbehave",
                      {"echo", "fail", "segfault", "abort", "stack_overflow", "exit", "hang", "sleep", "ignore_term", "leak",
                       "cpu_spin", "write_file", "log_lines", "big_result", "flood_stdout", "throw", "spawn_children", "escape", "garble", "lie", "fds",
                       "progress", "job_info", "out_of_memory"});
}

TEST_F(PluginTest, MisbehaveInitSucceedsAndShutdownReturns)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const sh_plugin_t* plugin = m_misbehave.descriptor();
    ASSERT_GE(plugin->struct_size, offsetof(sh_plugin_t, shutdown) + sizeof(plugin->shutdown));
    ASSERT_NE(plugin->init, nullptr);
    ASSERT_NE(plugin->shutdown, nullptr);
    sh_context record;
    EXPECT_EQ(plugin->init(&k_recording_services, &record), SH_STATUS_OK);
    EXPECT_FALSE(record.error.has_value());
    plugin->shutdown();
}

TEST_F(PluginTest, HelloDescriptorListsEveryTask)
{
    expect_descriptor(m_hello, "hello", {"echo", "word_count", "long"});
}

TEST_F(PluginTest, LegacyDescriptorListsEveryTask)
{
    expect_descriptor(m_legacy, "legacy_c", {"checksum", "reverse", "parse", "mean", "payment"});
}

TEST_F(PluginTest, MisbehaveEchoReturnsThePayloadBytesUnchanged)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const std::string payload = " {\"a\" : [1, 2.50, \"thr\\u00e9e\"],\n\t\"b\":null} ";
    const TaskRun run = run_task(m_misbehave, "echo", payload);
    EXPECT_EQ(run.status, SH_STATUS_OK);
    EXPECT_EQ(run.record.result, payload);
    EXPECT_FALSE(run.record.error.has_value());
}

TEST_F(PluginTest, MisbehaveFailSetsTheMessageAndRetryHint)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const TaskRun retryable = run_task(m_misbehave, "fail", R"({"message": "disk on fire"})");
    EXPECT_EQ(retryable.status, SH_STATUS_ERROR);
    EXPECT_EQ(retryable.record.error, "disk on fire");
    EXPECT_EQ(retryable.record.retry, SH_RETRY_ALLOWED);
    EXPECT_FALSE(retryable.record.result.has_value());

    const TaskRun permanent = run_task(m_misbehave, "fail", R"({"message": "bad input", "permanent": true})");
    EXPECT_EQ(permanent.status, SH_STATUS_ERROR);
    EXPECT_EQ(permanent.record.error, "bad input");
    EXPECT_EQ(permanent.record.retry, SH_RETRY_NEVER);

    const TaskRun not_permanent = run_task(m_misbehave, "fail", R"({"message": "again", "permanent": false})");
    EXPECT_EQ(not_permanent.record.retry, SH_RETRY_ALLOWED);
}

TEST_F(PluginTest, MisbehaveRejectsBadPayloadsWithAClearMessage)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    struct Case {
        const char* task;
        const char* payload;
        const char* message_part;
    };
    const Case cases[] = {
        {"fail", "{\"message\": ", "payload is not valid JSON"},
        {"fail", "", "payload is not valid JSON"},
        {"fail", "{\"message\": \"x\"} trailing", "payload is not valid JSON"},
        {"fail", "[\"message\"]", "payload is not a JSON object"},
        {"fail", "{}", "payload has no field \"message\""},
        {"fail", "{\"message\": 7}", "payload field \"message\" is not a string"},
        {"fail", "{\"message\": \"m\", \"permanent\": 1}", "payload field \"permanent\" is not a boolean"},
        {"big_result", "{\"bytes\": -1}", "payload field \"bytes\" is outside"},
        {"big_result", "{\"bytes\": 1.5}", "payload field \"bytes\" is not an integer"},
        {"big_result", "{\"bytes\": true}", "payload field \"bytes\" is not an integer"},
        {"big_result", "{\"bytes\": 18446744073709551615}", "payload field \"bytes\" is outside"},
        {"progress", "{\"steps\": 2}", "payload has no field \"ms\""},
    };
    for (const Case& c : cases) {
        const TaskRun run = run_task(m_misbehave, c.task, c.payload);
        EXPECT_EQ(run.status, SH_STATUS_ERROR) << c.task << " " << c.payload;
        ASSERT_TRUE(run.record.error.has_value()) << c.task << " " << c.payload;
        EXPECT_NE(run.record.error->find(c.message_part), std::string::npos) << *run.record.error;
        EXPECT_EQ(run.record.retry, SH_RETRY_NEVER) << c.task << " " << c.payload;
    }
}

TEST_F(PluginTest, MisbehaveBigResultReturnsExactlyTheBytesAskedFor)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const TaskRun empty = run_task(m_misbehave, "big_result", R"({"bytes": 0})");
    EXPECT_EQ(empty.status, SH_STATUS_OK);
    EXPECT_EQ(empty.record.result, "");

    const TaskRun big = run_task(m_misbehave, "big_result", R"({"bytes": 70000})");
    EXPECT_EQ(big.status, SH_STATUS_OK);
    ASSERT_TRUE(big.record.result.has_value());
    ASSERT_EQ(big.record.result->size(), 70000u);
    EXPECT_EQ(big.record.result->substr(0, 27), "abcdefghijklmnopqrstuvwxyza");
    for (std::size_t i = 0; i < big.record.result->size(); ++i) {
        ASSERT_EQ((*big.record.result)[i], static_cast<char>('a' + i % 26)) << "at byte " << i;
    }
}

TEST_F(PluginTest, MisbehaveBigResultOverTheCapFailsAndIsNeverRetried)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const TaskRun run = run_task(m_misbehave, "big_result", R"({"bytes": 70000})", 65536);
    EXPECT_EQ(run.status, SH_STATUS_ERROR);
    EXPECT_FALSE(run.record.result.has_value());
    ASSERT_TRUE(run.record.error.has_value());
    EXPECT_NE(run.record.error->find("exceeds the job's result cap"), std::string::npos) << *run.record.error;
    EXPECT_EQ(run.record.retry, SH_RETRY_NEVER);
}

TEST_F(PluginTest, MisbehaveThrowBecomesAFailedAttempt)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const TaskRun run = run_task(m_misbehave, "throw", "{}");
    EXPECT_EQ(run.status, SH_STATUS_ERROR);
    EXPECT_EQ(run.record.error, "boom from throw");
    EXPECT_EQ(run.record.retry, SH_RETRY_ALLOWED);
    EXPECT_FALSE(run.record.result.has_value());
}

TEST_F(PluginTest, MisbehaveJobInfoReportsWhatTheHostSays)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const TaskRun run = run_task(m_misbehave, "job_info", "{}");
    EXPECT_EQ(run.status, SH_STATUS_OK) << run.record.error.value_or("");
    EXPECT_EQ(run.record.result, R"({"job_id":41,"attempt":2,"queue":"tests","task":"","deadline_ms":0})");
}

TEST_F(PluginTest, MisbehaveBadAllocIsReportedAsOutOfMemory)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer aborts on an impossible allocation instead of throwing std::bad_alloc";
#endif
    // More than any address space: the allocation fails whatever the machine.
    const TaskRun run = run_task(m_misbehave, "out_of_memory", R"({"mib": 1073741824})");
    EXPECT_EQ(run.status, SH_STATUS_ERROR);
    EXPECT_EQ(run.record.out_of_memory, std::optional<std::size_t>(0));
    EXPECT_FALSE(run.record.result.has_value());
}

TEST_F(PluginTest, MisbehaveProgressReportsEveryStep)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const TaskRun run = run_task(m_misbehave, "progress", R"({"steps": 2, "ms": 1})");
    EXPECT_EQ(run.status, SH_STATUS_OK);
    EXPECT_EQ(run.record.result, "done");
    const std::vector<std::pair<double, std::string>> expected = {{50.0, "step 1/2"}, {100.0, "step 2/2"}};
    EXPECT_EQ(run.record.progress, expected);
}

TEST_F(PluginTest, MisbehaveProgressStopsWhenCancelled)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const TaskRun run = run_task(m_misbehave, "progress", R"({"steps": 2, "ms": 1})", SIZE_MAX, true);
    EXPECT_EQ(run.status, SH_STATUS_ERROR);
    EXPECT_EQ(run.record.error, "cancelled");
    EXPECT_TRUE(run.record.progress.empty());
}

TEST_F(PluginTest, MisbehaveFdsListsOpenDescriptorsButNotItsOwnListing)
{
    ASSERT_TRUE(m_misbehave.loaded()) << m_misbehave.load_error();
    const int marker = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(marker, 0);
    const TaskRun run = run_task(m_misbehave, "fds", "{}");
    ::close(marker);
    ASSERT_EQ(run.status, SH_STATUS_OK) << run.record.error.value_or("");
    ASSERT_TRUE(run.record.result.has_value());

    Poco::JSON::Parser parser;
    const auto listing = parser.parse(*run.record.result).extract<Poco::JSON::Array::Ptr>();
    bool marker_listed = false;
    for (std::size_t i = 0; i < listing->size(); ++i) {
        const auto entry = listing->getObject(static_cast<unsigned>(i));
        const int fd = entry->getValue<int>("fd");
        const std::string target = entry->getValue<std::string>("target");
        if (fd == marker) {
            marker_listed = true;
            EXPECT_EQ(target, "/dev/null");
        }
        // The directory the task read its descriptors from must not be among them.
        EXPECT_FALSE(target.find("/proc/") == 0 && target.size() > 3 && target.substr(target.size() - 3) == "/fd")
            << "fd " << fd << " -> " << target;
    }
    EXPECT_TRUE(marker_listed) << *run.record.result;
}

TEST_F(PluginTest, HelloEchoReturnsThePayload)
{
    ASSERT_TRUE(m_hello.loaded()) << m_hello.load_error();
    const TaskRun run = run_task(m_hello, "echo", R"({"x": "y"})");
    EXPECT_EQ(run.status, SH_STATUS_OK);
    EXPECT_EQ(run.record.result, R"({"x": "y"})");
}

TEST_F(PluginTest, HelloWordCountCountsWords)
{
    ASSERT_TRUE(m_hello.loaded()) << m_hello.load_error();
    const TaskRun run = run_task(m_hello, "word_count", R"({"text": "  the quick\tbrown\n fox  "})");
    EXPECT_EQ(run.status, SH_STATUS_OK);
    ASSERT_TRUE(run.record.result.has_value());
    EXPECT_EQ(parse_object(*run.record.result)->getValue<int>("words"), 4);

    const TaskRun empty = run_task(m_hello, "word_count", R"({"text": ""})");
    EXPECT_EQ(empty.record.result, R"({"words":0})");
}

TEST_F(PluginTest, HelloWordCountRejectsBadPayloads)
{
    ASSERT_TRUE(m_hello.loaded()) << m_hello.load_error();
    const TaskRun not_json = run_task(m_hello, "word_count", "text");
    EXPECT_EQ(not_json.status, SH_STATUS_ERROR);
    ASSERT_TRUE(not_json.record.error.has_value());
    EXPECT_NE(not_json.record.error->find("payload is not valid JSON"), std::string::npos) << *not_json.record.error;
    EXPECT_EQ(not_json.record.retry, SH_RETRY_NEVER);

    const TaskRun missing = run_task(m_hello, "word_count", R"({"words": "a b"})");
    EXPECT_EQ(missing.status, SH_STATUS_ERROR);
    EXPECT_EQ(missing.record.error, "payload has no field \"text\"");
}

TEST_F(PluginTest, HelloLongStopsWhenCancelled)
{
    ASSERT_TRUE(m_hello.loaded()) << m_hello.load_error();
    const TaskRun run = run_task(m_hello, "long", R"({"seconds": 60})", SIZE_MAX, true);
    EXPECT_EQ(run.status, SH_STATUS_ERROR);
    EXPECT_EQ(run.record.error, "cancelled");
    EXPECT_EQ(run.record.retry, SH_RETRY_NEVER);
}

TEST_F(PluginTest, HelloLongOfZeroSecondsReportsCompletion)
{
    ASSERT_TRUE(m_hello.loaded()) << m_hello.load_error();
    const TaskRun run = run_task(m_hello, "long", R"({"seconds": 0})");
    EXPECT_EQ(run.status, SH_STATUS_OK) << run.record.error.value_or("");
    ASSERT_FALSE(run.record.progress.empty());
    EXPECT_EQ(run.record.progress.back().first, 100.0);
    ASSERT_TRUE(run.record.result.has_value());
    EXPECT_EQ(parse_object(*run.record.result)->getValue<int>("seconds"), 0);
}

TEST_F(PluginTest, LegacyChecksumIsAdler32OfTheDecodedString)
{
    ASSERT_TRUE(m_legacy.loaded()) << m_legacy.load_error();
    struct Case {
        std::string payload;
        const char* expected;
    };
    std::string long_text;
    for (int i = 0; i < 1000; ++i) {
        long_text += "abcdefghijklmnopqrstuvwxyz";
    }
    // Expected values are zlib.adler32 of the decoded bytes.
    const Case cases[] = {
        {R"({"data": "Wikipedia"})", "300286872"},
        {R"({"data": ""})", "1"},
        {R"({"other": 1, "data": "\u00e9"})", "36766061"},
        {R"({"data": "a\u0000b"})", "25690308"},
        {R"({"data": ")" + long_text + R"("})", "569406366"},
    };
    for (const Case& c : cases) {
        const TaskRun run = run_task(m_legacy, "checksum", c.payload);
        EXPECT_EQ(run.status, SH_STATUS_OK) << c.payload.substr(0, 40) << ": " << run.record.error.value_or("");
        EXPECT_EQ(run.record.result, c.expected) << c.payload.substr(0, 40);
    }
}

TEST_F(PluginTest, LegacyChecksumRejectsBadPayloads)
{
    ASSERT_TRUE(m_legacy.loaded()) << m_legacy.load_error();
    struct Case {
        const char* payload;
        const char* message;
    };
    const Case cases[] = {
        {"", "payload is not valid JSON"},
        {"{\"data\": \"abc\"", "payload is not valid JSON"},
        {"{\"data\": \"abc\",}", "payload is not valid JSON"},
        {"{\"data\": \"a\\qb\"}", "payload is not valid JSON"},
        {"{\"data\": \"abc\"} {}", "payload is not valid JSON"},
        {"\"abc\"", "payload is not a JSON object"},
        {"{\"dat\": \"abc\"}", "payload has no field \"data\""},
        {"{\"data\": 12}", "payload field \"data\" is not a string"},
    };
    for (const Case& c : cases) {
        const TaskRun run = run_task(m_legacy, "checksum", c.payload);
        EXPECT_EQ(run.status, SH_STATUS_ERROR) << c.payload;
        EXPECT_EQ(run.record.error, c.message) << c.payload;
        EXPECT_EQ(run.record.retry, SH_RETRY_NEVER) << c.payload;
    }
}

TEST_F(PluginTest, LegacyParseReadsAWellFormedLine)
{
    ASSERT_TRUE(m_legacy.loaded()) << m_legacy.load_error();
    const TaskRun run = run_task(m_legacy, "parse", R"({"line": "  speed = -42 "})");
    EXPECT_EQ(run.status, SH_STATUS_OK) << run.record.error.value_or("");
    EXPECT_EQ(run.record.result, R"({"name":"speed","value":-42})");

    // A line with an '=' but a bad value is refused by the legacy code itself, without crashing.
    const TaskRun bad_value = run_task(m_legacy, "parse", R"({"line": "speed = fast"})");
    EXPECT_EQ(bad_value.status, SH_STATUS_ERROR);
    EXPECT_EQ(bad_value.record.error, "cannot parse line: value is not a decimal integer");
    EXPECT_EQ(bad_value.record.retry, SH_RETRY_NEVER);
}

TEST_F(PluginTest, LegacyMeanWrapsAnArrayOfNumbers)
{
    ASSERT_TRUE(m_legacy.loaded()) << m_legacy.load_error();
    const TaskRun run = run_task(m_legacy, "mean", R"({"values": [1, 2, 4.5]})");
    EXPECT_EQ(run.status, SH_STATUS_OK) << run.record.error.value_or("");
    EXPECT_EQ(run.record.result, "2.5");

    const TaskRun empty = run_task(m_legacy, "mean", R"({"values": []})");
    EXPECT_EQ(empty.status, SH_STATUS_ERROR);
    EXPECT_EQ(empty.record.error, "the result is not a number (NaN), which JSON cannot carry");
    EXPECT_EQ(empty.record.retry, SH_RETRY_NEVER);

    const TaskRun strings = run_task(m_legacy, "mean", R"({"values": [1, "2"]})");
    EXPECT_EQ(strings.record.error, "payload field \"values\" is not an array of numbers");
    EXPECT_EQ(strings.record.retry, SH_RETRY_NEVER);
}

TEST_F(PluginTest, LegacyPaymentWrapsAFunctionTakingAStruct)
{
    ASSERT_TRUE(m_legacy.loaded()) << m_legacy.load_error();
    const TaskRun run = run_task(m_legacy, "payment", R"({"loan": {"principal": 1200, "annual_rate": 0, "months": 12}})");
    EXPECT_EQ(run.status, SH_STATUS_OK) << run.record.error.value_or("");
    EXPECT_EQ(run.record.result, "100");

    const TaskRun rate = run_task(m_legacy, "payment", R"({"loan": {"principal": 1000, "annual_rate": 0.05, "months": 12}})");
    ASSERT_TRUE(rate.record.result.has_value()) << rate.record.error.value_or("");
    EXPECT_NEAR(std::stod(*rate.record.result), 85.607481788, 1e-6);

    const TaskRun missing = run_task(m_legacy, "payment", R"({"loan": {"principal": 1000, "months": 12}})");
    EXPECT_EQ(missing.record.error, "payload has no field \"/loan/annual_rate\"");
    EXPECT_EQ(missing.record.retry, SH_RETRY_NEVER);

    const TaskRun months = run_task(m_legacy, "payment", R"({"loan": {"principal": 1, "annual_rate": 0, "months": 1.5}})");
    EXPECT_EQ(months.record.error, "payload field \"/loan/months\" is not an integer");
}

} // namespace
