#include "support.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <cerrno>
#include <chrono>
#include <system_error>
#include <thread>
#include <utility>

namespace misbehave {

Payload::Payload(Poco::JSON::Object::Ptr object) : m_object(std::move(object)) {}

Payload Payload::parse(std::string_view text)
{
    Poco::Dynamic::Var value;
    try {
        Poco::JSON::Parser parser;
        value = parser.parse(std::string(text));
    } catch (const Poco::Exception& e) {
        throw PayloadError("payload is not valid JSON: " + e.displayText());
    }
    if (value.type() != typeid(Poco::JSON::Object::Ptr)) {
        throw PayloadError("payload is not a JSON object");
    }
    return Payload(value.extract<Poco::JSON::Object::Ptr>());
}

std::int64_t Payload::integer(const std::string& key, std::int64_t min, std::int64_t max) const
{
    const Poco::Dynamic::Var value = m_object->get(key);
    if (value.isEmpty()) {
        throw PayloadError("payload has no field \"" + key + "\"");
    }
    // Poco calls a boolean an integer too.
    if (!value.isInteger() || value.isBoolean()) {
        throw PayloadError("payload field \"" + key + "\" is not an integer");
    }
    const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
    std::int64_t number = 0;
    try {
        number = value.convert<std::int64_t>();
    } catch (const Poco::Exception&) {
        throw PayloadError("payload field \"" + key + "\" is outside " + range);
    }
    if (number < min || number > max) {
        throw PayloadError("payload field \"" + key + "\" is outside " + range);
    }
    return number;
}

bool Payload::boolean_or(const std::string& key, bool fallback) const
{
    const Poco::Dynamic::Var value = m_object->get(key);
    if (value.isEmpty()) {
        return fallback;
    }
    if (!value.isBoolean()) {
        throw PayloadError("payload field \"" + key + "\" is not a boolean");
    }
    return value.extract<bool>();
}

std::string Payload::string(const std::string& key) const
{
    const Poco::Dynamic::Var value = m_object->get(key);
    if (value.isEmpty()) {
        throw PayloadError("payload has no field \"" + key + "\"");
    }
    if (!value.isString()) {
        throw PayloadError("payload field \"" + key + "\" is not a string");
    }
    return value.extract<std::string>();
}

sh_status_t fail_with(const sh_services_t* services, sh_context_t* ctx, const std::string& message,
                      sh_retry_t retry)
{
    services->set_error(ctx, message.c_str(), retry);
    return SH_STATUS_ERROR;
}

sh_status_t succeed_with(const sh_services_t* services, sh_context_t* ctx, std::string_view text)
{
    if (services->set_result(ctx, text.data(), text.size()) != SH_RESULT_STORED) {
        return fail_with(services, ctx, "result of " + std::to_string(text.size()) + " bytes exceeds the job's result cap",
                         SH_RETRY_NEVER);
    }
    return SH_STATUS_OK;
}

std::string errno_message(const std::string& what, int error)
{
    return what + ": " + std::generic_category().message(error);
}

std::string json_quote(std::string_view text)
{
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string quoted = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            quoted += '\\';
            quoted += c;
        } else if (byte < 0x20) {
            quoted += "\\u00";
            quoted += k_hex[byte >> 4];
            quoted += k_hex[byte & 0x0F];
        } else {
            quoted += c;
        }
    }
    quoted += '"';
    return quoted;
}

void sleep_ms(std::int64_t ms)
{
    // sleep_for resumes after a signal handler returns, so the whole time passes.
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

} // namespace misbehave
