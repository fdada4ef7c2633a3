#include "scheduler/payload.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

namespace sandhost::scheduler {

std::string payload_with_dependencies(const std::string& payload, const std::map<model::JobId, std::string>& results)
{
    Poco::JSON::Parser parser;
    Poco::JSON::Object::Ptr object = parser.parse(payload).extract<Poco::JSON::Object::Ptr>();
    Poco::JSON::Object dependencies(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [id, result] : results) {
        try {
            Poco::JSON::Parser result_parser;
            dependencies.set(std::to_string(id), result_parser.parse(result));
        } catch (const Poco::Exception&) {
            dependencies.set(std::to_string(id), result);
        }
    }
    object->set(k_dependencies_key, dependencies);
    std::ostringstream out;
    object->stringify(out);
    return out.str();
}

} // namespace sandhost::scheduler
