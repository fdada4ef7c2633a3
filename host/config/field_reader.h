// Reading typed values out of a YAML mapping: keys checked against the known ones, scalars
// with `${VAR}` expanded, then strings, booleans, counts, numbers, durations, sizes, enums and
// limits, each in its range. Every problem is recorded with its position and the loading goes
// on, so that a file's errors are reported all at once. Internal to config.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.h"
#include "config/settings.h"
#include "config/suggest.h"
#include "config/variables.h"
#include "config/yaml_tree.h"
#include "model/enum_names.h"

namespace sandhost::config {

// `"text"`, for quoting keys and values in messages.
std::string in_quotes(std::string_view text);

// Letters, digits, '_' and '-', at least one: what queue and schedule names may hold.
bool is_name(std::string_view text);

// The YAML 1.2 core schema's spellings of a boolean, for plain scalars whose text came from a
// variable; nullopt for any other text.
std::optional<bool> yaml_bool(std::string_view text);

// The readers of one load. Each read_* takes a mapping entry, stores the value in `out` and
// returns true when it is valid, or records an error at the entry and returns false, leaving
// `out` as it was (so a setting keeps its default). Nothing here throws for a bad value.
class FieldReader {
public:
    // A mapping whose unknown keys have been reported.
    struct Section {
        const YamlNode* node = nullptr;
        const YamlEntry* get(std::string_view key) const { return node != nullptr ? node->find(key) : nullptr; }
    };

    // `env` resolves `${VAR}` references; it must outlive the reader.
    explicit FieldReader(const EnvLookup& env) : m_env(env) {}

    // The position of `node` in the file being read.
    SourceLocation where(const YamlNode& node) const { return {m_file, node.line, node.column}; }
    void report(const YamlNode& node, std::string message) { report(where(node), std::move(message)); }
    void report(const SourceLocation& at, std::string message)
    {
        m_errors.push_back(ConfigError{at.file, at.line, at.column, std::move(message)});
    }

    // Reports every key of `map` that is not in `known` (with a did-you-mean), every key that is
    // not a string, and merge keys; `context` ends the messages ("in host", "at the top level").
    Section section(const YamlNode& map, const std::string& context, const std::vector<std::string>& known);
    // The entry's value as a mapping (or sequence), nullptr when it is empty ("sandbox:" with
    // everything below commented out changes nothing) or, after a report, of another kind.
    const YamlNode* mapping_value(const YamlEntry& entry);
    const YamlNode* sequence_value(const YamlEntry& entry);
    // The entry's scalar with variables expanded; `expected` names what was wanted in the
    // report for a missing value or a collection.
    std::optional<std::string> scalar(const YamlEntry& entry, std::string_view expected);
    // The text of the scalar `node` with variables expanded; `key` starts the report.
    std::optional<std::string> expand(const YamlNode& node, std::string_view key);
    // The same for an item of the sequence under `key`, after reporting an item that is not a
    // scalar ("KEY: expected EXPECTED, got a mapping").
    std::optional<std::string> scalar_item(const YamlNode& item, std::string_view key, std::string_view expected);

    // A non-empty string.
    bool read_string(const YamlEntry& entry, std::string& out);
    bool read_bool(const YamlEntry& entry, bool& out);
    // A whole number from min to max (decimal digits only).
    bool read_count(const YamlEntry& entry, std::uint64_t min, std::uint64_t max, std::uint64_t& out);
    template <class T>
    bool read_count_as(const YamlEntry& entry, std::uint64_t min, std::uint64_t max, T& out);
    // A finite number from min to max.
    bool read_number(const YamlEntry& entry, double min, double max, double& out);
    // A duration ("30s", "5m") of at least min.
    bool read_duration(const YamlEntry& entry, model::Duration min, model::Duration& out);
    // A size ("512MiB") of at least min bytes.
    bool read_size(const YamlEntry& entry, std::uint64_t min, std::uint64_t& out);
    // One of the names in `names`.
    template <class T, std::size_t n>
    bool read_enum(const YamlEntry& entry, const model::EnumName<T> (&names)[n], T& out);

    // Limits take "unlimited" too, which empties `out`. A null entry (the key is absent)
    // leaves `out` as it is.
    bool is_unlimited(const YamlEntry& entry);
    void read_limit_size(const YamlEntry* entry, std::uint64_t min, std::optional<std::uint64_t>& out);
    void read_limit_count(const YamlEntry* entry, std::uint64_t max, std::optional<std::uint64_t>& out);
    void read_limit_duration(const YamlEntry* entry, model::Duration min, std::optional<model::Duration>& out);

protected:
    std::filesystem::path m_file;      // the file being read, as named in errors
    std::vector<ConfigError> m_errors;  // in the order found

private:
    const EnvLookup& m_env;
};

template <class T>
bool FieldReader::read_count_as(const YamlEntry& entry, std::uint64_t min, std::uint64_t max, T& out)
{
    std::uint64_t value = 0;
    if (!read_count(entry, min, max, value)) return false;
    out = static_cast<T>(value);
    return true;
}

template <class T, std::size_t n>
bool FieldReader::read_enum(const YamlEntry& entry, const model::EnumName<T> (&names)[n], T& out)
{
    std::vector<std::string> spellings;
    for (const auto& name : names) spellings.emplace_back(name.name);
    auto text = scalar(entry, "one of " + join(spellings));
    if (!text) return false;
    for (const auto& name : names) {
        if (name.name == *text) {
            out = name.value;
            return true;
        }
    }
    std::string message = entry.key->text + ": " + in_quotes(*text) + " is not one of " + join(spellings);
    if (auto suggestion = closest_match(*text, spellings)) message += "; did you mean " + in_quotes(*suggestion) + "?";
    report(*entry.value, std::move(message));
    return false;
}

} // namespace sandhost::config
