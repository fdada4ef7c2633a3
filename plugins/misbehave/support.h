// What the misbehave tasks share: reading the JSON payload, reporting results and errors
// through the C services, and keeping C++ exceptions from crossing the C boundary.
#pragma once

#include <sandhost/plugin.h>

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

namespace misbehave {

// A payload the task cannot use. Running it again cannot help, so it is never retried.
class PayloadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The JSON object a task received. Every accessor names the field in the PayloadError it throws.
class Payload {
public:
    // Parses text. Throws PayloadError when it is not valid JSON or not an object.
    static Payload parse(std::string_view text);

    // The integer field key, which must lie in [min, max].
    std::int64_t integer(const std::string& key, std::int64_t min, std::int64_t max) const;
    // The boolean field key, or fallback when it is absent.
    bool boolean_or(const std::string& key, bool fallback) const;
    // The string field key.
    std::string string(const std::string& key) const;

private:
    explicit Payload(Poco::JSON::Object::Ptr object);

    Poco::JSON::Object::Ptr m_object;
};

// Sets the error message and returns SH_STATUS_ERROR.
sh_status_t fail_with(const sh_services_t* services, sh_context_t* ctx, const std::string& message,
                      sh_retry_t retry);

// Sets the result to text. A result over the job's cap fails the task (the host ends the job as
// result_too_large whatever the task returns).
sh_status_t succeed_with(const sh_services_t* services, sh_context_t* ctx, std::string_view text);

// "<what>: <strerror(error)>", thread-safe.
std::string errno_message(const std::string& what, int error);

// text as a quoted JSON string, with quotes, backslashes and control characters escaped.
std::string json_quote(std::string_view text);

// Sleeps for ms milliseconds, resuming after signals.
void sleep_ms(std::int64_t ms);

// Runs body for a C task, turning any exception it throws into a failed attempt.
template <typename Body>
sh_status_t guarded(const sh_services_t* services, sh_context_t* ctx, Body&& body) noexcept
{
    try {
        return body();
    } catch (const PayloadError& e) {
        return fail_with(services, ctx, e.what(), SH_RETRY_NEVER);
    } catch (const std::bad_alloc&) {
        if (SH_HAS_SERVICE(services, out_of_memory)) {
            services->out_of_memory(ctx, 0);
            return SH_STATUS_ERROR;
        }
        return fail_with(services, ctx, "out of memory", SH_RETRY_ALLOWED);
    } catch (const std::exception& e) {
        return fail_with(services, ctx, e.what(), SH_RETRY_ALLOWED);
    } catch (...) {
        return fail_with(services, ctx, "unknown exception", SH_RETRY_ALLOWED);
    }
}

} // namespace misbehave
