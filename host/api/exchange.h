// One request and its response, as the API's handlers see them: the path split into segments,
// the query, the body read within max_body, and JSON replies. Internal to the API.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sandhost::api {

// A request the API refuses, written back as {"error": {"code": CODE, "message": MESSAGE}}
// with `status`. Codes: bad_request, bad_json, unauthorized, not_found, method_not_allowed,
// conflict, payload_too_large, invalid_job, unavailable, internal.
class ApiError : public std::runtime_error {
public:
    ApiError(int status, std::string code, const std::string& message)
        : std::runtime_error(message), m_status(status), m_code(std::move(code))
    {
    }
    int status() const { return m_status; }
    const std::string& code() const { return m_code; }

private:
    int m_status;
    std::string m_code;
};

// The body of an error reply.
std::string error_json(const std::string& code, const std::string& message);

// Whether two secrets are equal, in a time that depends on their lengths only.
bool constant_time_equal(std::string_view a, std::string_view b);

class Exchange {
public:
    // Throws ApiError (400) for a path that does not decode.
    Exchange(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, std::uint64_t max_body);

    const std::string& method() const { return m_request.getMethod(); }
    // The path's segments, percent-decoded: "/api/v1/jobs/12" is {"api", "v1", "jobs", "12"}.
    const std::vector<std::string>& path() const { return m_path; }
    // A query parameter (the last one of the name), decoded.
    std::optional<std::string> query(const std::string& name) const;
    // The header, or nullopt.
    std::optional<std::string> header(const std::string& name) const;

    // The whole body. Throws ApiError 413 when it is longer than max_body: read no further
    // than that (the declared length was already checked before anything was read).
    std::string body();

    // Replies. Each sets the status, Content-Type and Content-Length and sends the body.
    void reply_json(int status, const std::string& json);
    void reply(int status, const std::string& content_type, std::string_view body);
    void reply_error(const ApiError& error);

    Poco::Net::HTTPServerRequest& request() { return m_request; }
    Poco::Net::HTTPServerResponse& response() { return m_response; }

private:
    Poco::Net::HTTPServerRequest& m_request;
    Poco::Net::HTTPServerResponse& m_response;
    std::uint64_t m_max_body;
    std::vector<std::string> m_path;
    std::multimap<std::string, std::string> m_query;
};

} // namespace sandhost::api
