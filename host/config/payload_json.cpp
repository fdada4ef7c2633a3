#include "config/payload_json.h"

#include <string_view>

#include "model/text.h"

namespace sandhost::config {
namespace {

using Kind = YamlNode::Kind;

constexpr std::size_t k_max_payload_bytes = 1 << 20;

// JSON's number grammar: the only plain scalars that become JSON numbers (verbatim).
bool is_json_number(std::string_view text)
{
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
        return i - start;
    };
    if (i < text.size() && text[i] == '-') ++i;
    if (i < text.size() && text[i] == '0') {
        ++i;
    } else if (digits() == 0) {
        return false;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        if (digits() == 0) return false;
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
        if (digits() == 0) return false;
    }
    return i == text.size();
}

// The YAML 1.2 core schema's spellings of null, for plain scalars whose text came from a variable.
bool is_yaml_null(std::string_view text)
{
    return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

} // namespace

bool payload_to_json(FieldReader& reader, const YamlNode& node, std::string& out)
{
    // Aliases can make a small file describe a huge tree: stop at the size, not after it.
    if (out.size() > k_max_payload_bytes) {
        reader.report(node, "payload: larger than " + std::to_string(k_max_payload_bytes >> 20) + " MiB as JSON");
        return false;
    }
    switch (node.kind) {
    case Kind::null:
        out += "null";
        return true;
    case Kind::scalar: {
        auto text = reader.expand(node, "payload");
        if (!text) return false;
        if (!model::is_valid_utf8(*text)) {
            reader.report(node, "payload: " + in_quotes(*text) + " is not valid UTF-8");
            return false;
        }
        if (node.plain) {
            if (is_yaml_null(*text)) {
                out += "null";
                return true;
            }
            if (auto value = yaml_bool(*text)) {
                out += *value ? "true" : "false";
                return true;
            }
            if (is_json_number(*text)) {
                out += *text;
                return true;
            }
        }
        model::append_json_string(out, *text);
        return true;
    }
    case Kind::sequence:
        out += '[';
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            if (i > 0) out += ',';
            if (!payload_to_json(reader, *node.items[i], out)) return false;
        }
        out += ']';
        return true;
    case Kind::mapping:
        out += '{';
        for (std::size_t i = 0; i < node.entries.size(); ++i) {
            const YamlNode& key = *node.entries[i].key;
            if (key.kind != Kind::scalar) {
                reader.report(key, "payload: keys must be strings, got " + describe(key));
                return false;
            }
            if (!model::is_valid_utf8(key.text)) {
                reader.report(key, "payload: key " + in_quotes(key.text) + " is not valid UTF-8");
                return false;
            }
            if (i > 0) out += ',';
            model::append_json_string(out, key.text);
            out += ':';
            if (!payload_to_json(reader, *node.entries[i].value, out)) return false;
        }
        out += '}';
        return true;
    }
    return false;
}

} // namespace sandhost::config
