#include "config/field_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

namespace sandhost::config {
namespace {

using Kind = YamlNode::Kind;

constexpr std::string_view k_unlimited = "unlimited";

// What read_duration and read_size share: a scalar, parsed by `parse` (whose error is the
// message), then at least `min` (named in the message by `format`).
template <class T, class Parse, class Format>
bool read_at_least(FieldReader& reader, const YamlEntry& entry, std::string_view expected, Parse parse, Format format,
                   T min, T& out)
{
    auto text = reader.scalar(entry, expected);
    if (!text) return false;
    auto value = parse(*text);
    if (!value) {
        reader.report(*entry.value, entry.key->text + ": " + value.error());
        return false;
    }
    if (value.value() < min) {
        reader.report(*entry.value, entry.key->text + ": must be at least " + format(min) + ", got " + in_quotes(*text));
        return false;
    }
    out = value.value();
    return true;
}

// What the limit readers share: no entry leaves `out` alone, "unlimited" empties it, anything
// else is read by `read` into a value that `out` takes when it is valid.
template <class T, class Read>
void read_limit(FieldReader& reader, const YamlEntry* entry, std::optional<T>& out, Read read)
{
    if (entry == nullptr) return;
    if (reader.is_unlimited(*entry)) {
        out.reset();
        return;
    }
    T value{};
    if (read(value)) out = value;
}

} // namespace

std::string in_quotes(std::string_view text)
{
    return "\"" + std::string(text) + "\"";
}

bool is_name(std::string_view text)
{
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

std::optional<bool> yaml_bool(std::string_view text)
{
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    return std::nullopt;
}

FieldReader::Section FieldReader::section(const YamlNode& map, const std::string& context, const std::vector<std::string>& known)
{
    for (const auto& entry : map.entries) {
        const YamlNode& key = *entry.key;
        if (key.kind != Kind::scalar) {
            report(key, "keys must be strings, got " + describe(key) + " " + context);
            continue;
        }
        if (std::find(known.begin(), known.end(), key.text) != known.end()) continue;
        if (key.text == "<<") {
            report(key, "merge keys (\"<<\") are not supported " + context + "; write the keys out");
            continue;
        }
        std::string message = "unknown key " + in_quotes(key.text) + " " + context;
        if (auto suggestion = closest_match(key.text, known)) {
            message += "; did you mean " + in_quotes(*suggestion) + "?";
        } else {
            message += " (expected " + join(known) + ")";
        }
        report(key, std::move(message));
    }
    return Section{&map};
}

const YamlNode* FieldReader::mapping_value(const YamlEntry& entry)
{
    const YamlNode& value = *entry.value;
    if (value.kind == Kind::mapping) return &value;
    // An empty section ("sandbox:" with everything below commented out) changes nothing.
    if (value.kind == Kind::null) return nullptr;
    report(value, entry.key->text + ": expected a mapping, got " + describe(value));
    return nullptr;
}

const YamlNode* FieldReader::sequence_value(const YamlEntry& entry)
{
    const YamlNode& value = *entry.value;
    if (value.kind == Kind::sequence) return &value;
    if (value.kind == Kind::null) return nullptr;
    report(value, entry.key->text + ": expected a sequence, got " + describe(value));
    return nullptr;
}

std::optional<std::string> FieldReader::expand(const YamlNode& node, std::string_view key)
{
    auto expanded = expand_variables(node.text, m_env);
    if (!expanded) {
        report(node, std::string(key) + ": " + expanded.error());
        return std::nullopt;
    }
    return std::move(expanded).value();
}

std::optional<std::string> FieldReader::scalar_item(const YamlNode& item, std::string_view key,
                                                    std::string_view expected)
{
    if (item.kind != Kind::scalar) {
        report(item, std::string(key) + ": expected " + std::string(expected) + ", got " + describe(item));
        return std::nullopt;
    }
    return expand(item, key);
}

std::optional<std::string> FieldReader::scalar(const YamlEntry& entry, std::string_view expected)
{
    const YamlNode& value = *entry.value;
    const std::string& key = entry.key->text;
    if (value.kind == Kind::null) {
        report(*entry.key, key + ": missing value (expected " + std::string(expected) + ")");
        return std::nullopt;
    }
    if (value.kind != Kind::scalar) {
        report(value, key + ": expected " + std::string(expected) + ", got " + describe(value));
        return std::nullopt;
    }
    return expand(value, key);
}

bool FieldReader::read_string(const YamlEntry& entry, std::string& out)
{
    auto text = scalar(entry, "a string");
    if (!text) return false;
    if (text->empty()) {
        report(*entry.value, entry.key->text + ": must not be empty");
        return false;
    }
    out = *text;
    return true;
}

bool FieldReader::read_bool(const YamlEntry& entry, bool& out)
{
    auto text = scalar(entry, "true or false");
    if (!text) return false;
    auto value = yaml_bool(*text);
    if (!value) {
        report(*entry.value, entry.key->text + ": expected true or false, got " + in_quotes(*text));
        return false;
    }
    out = *value;
    return true;
}

bool FieldReader::read_count(const YamlEntry& entry, std::uint64_t min, std::uint64_t max, std::uint64_t& out)
{
    auto text = scalar(entry, "an integer");
    if (!text) return false;
    const std::string& key = entry.key->text;
    std::string_view digits = *text;
    bool negative = digits.starts_with('-');
    if (negative) digits.remove_prefix(1);
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
        return c >= '0' && c <= '9';
    });
    if (!all_digits || end != digits.data() + digits.size()) {
        report(*entry.value, key + ": expected an integer, got " + in_quotes(*text));
        return false;
    }
    if (negative || ec != std::errc() || value < min || value > max) {
        report(*entry.value, key + ": must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                                 in_quotes(*text));
        return false;
    }
    out = value;
    return true;
}

bool FieldReader::read_number(const YamlEntry& entry, double min, double max, double& out)
{
    auto text = scalar(entry, "a number");
    if (!text) return false;
    double value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || text->empty() || !std::isfinite(value)) {
        report(*entry.value, entry.key->text + ": expected a number, got " + in_quotes(*text));
        return false;
    }
    if (value < min || value > max) {
        char bounds[64];
        std::snprintf(bounds, sizeof bounds, "from %g to %g", min, max);
        report(*entry.value, entry.key->text + ": must be " + bounds + ", got " + in_quotes(*text));
        return false;
    }
    out = value;
    return true;
}

bool FieldReader::read_duration(const YamlEntry& entry, model::Duration min, model::Duration& out)
{
    return read_at_least(*this, entry, "a duration", model::parse_duration, model::format_duration, min, out);
}

bool FieldReader::read_size(const YamlEntry& entry, std::uint64_t min, std::uint64_t& out)
{
    return read_at_least(*this, entry, "a size", model::parse_size, model::format_size, min, out);
}

bool FieldReader::is_unlimited(const YamlEntry& entry)
{
    return entry.value->kind == Kind::scalar && entry.value->text == k_unlimited;
}

void FieldReader::read_limit_size(const YamlEntry* entry, std::uint64_t min, std::optional<std::uint64_t>& out)
{
    read_limit(*this, entry, out, [&](std::uint64_t& value) { return read_size(*entry, min, value); });
}

void FieldReader::read_limit_count(const YamlEntry* entry, std::uint64_t max, std::optional<std::uint64_t>& out)
{
    read_limit(*this, entry, out, [&](std::uint64_t& value) { return read_count(*entry, 1, max, value); });
}

void FieldReader::read_limit_duration(const YamlEntry* entry, model::Duration min, std::optional<model::Duration>& out)
{
    read_limit(*this, entry, out, [&](model::Duration& value) { return read_duration(*entry, min, value); });
}

} // namespace sandhost::config
