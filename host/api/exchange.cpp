#include "api/exchange.h"

#include "model/json_text.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <istream>

namespace sandhost::api {

std::string error_json(const std::string& code, const std::string& message)
{
    return model::JsonObject().raw("error", model::JsonObject().text("code", code).text("message", message).str()).str();
}

bool constant_time_equal(std::string_view a, std::string_view b)
{
    // Every byte of the longer one is looked at, whatever the first difference.
    const std::size_t length = std::max(a.size(), b.size());
    unsigned char difference = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < length; ++i) {
        const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
        const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
        difference = static_cast<unsigned char>(difference | (x ^ y));
    }
    return difference == 0;
}

Exchange::Exchange(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, std::uint64_t max_body)
    : m_request(request), m_response(response), m_max_body(max_body)
{
    try {
        const Poco::URI uri(request.getURI());
        uri.getPathSegments(m_path);
        for (auto& [name, value] : uri.getQueryParameters()) m_query.emplace(name, value);
    } catch (const Poco::Exception& e) {
        throw ApiError(400, "bad_request", "the request's path does not read: " + e.message());
    }
}

std::optional<std::string> Exchange::query(const std::string& name) const
{
    const auto [first, last] = m_query.equal_range(name);
    if (first == last) return std::nullopt;
    return std::prev(last)->second;
}

std::optional<std::string> Exchange::header(const std::string& name) const
{
    if (!m_request.has(name)) return std::nullopt;
    return m_request.get(name);
}

std::string Exchange::body()
{
    std::istream& in = m_request.stream();
    std::string body;
    char buffer[16384];
    while (in) {
        in.read(buffer, sizeof buffer);
        body.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (body.size() > m_max_body) {
            m_response.setKeepAlive(false);  // the rest of the body is never read
            throw ApiError(413, "payload_too_large",
                           "the request body is larger than api.max_body (" + std::to_string(m_max_body) + " bytes)");
        }
    }
    return body;
}

void Exchange::reply_json(int status, const std::string& json) { reply(status, "application/json", json + "\n"); }

void Exchange::reply(int status, const std::string& content_type, std::string_view body)
{
    m_response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    m_response.setContentType(content_type);
    m_response.setContentLength64(static_cast<Poco::Int64>(body.size()));
    if (!m_response.has("Cache-Control")) m_response.set("Cache-Control", "no-store");
    m_response.set("X-Content-Type-Options", "nosniff");
    std::ostream& out = m_response.send();
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    out.flush();
}

void Exchange::reply_error(const ApiError& error)
{
    if (error.status() == 401) m_response.set("WWW-Authenticate", "Bearer realm=\"sandhost\"");
    reply_json(error.status(), error_json(error.code(), error.what()));
}

} // namespace sandhost::api
