// A YAML document as a tree that keeps each node's position and refuses duplicate keys.
// yaml-cpp's Node API drops both (the last duplicate silently wins), so the tree is built from
// the parser's events instead. Internal to config.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.h"

namespace sandhost::config {

struct YamlNode;
using YamlNodePtr = std::shared_ptr<const YamlNode>;

struct YamlEntry {
    YamlNodePtr key;
    YamlNodePtr value;
};

struct YamlNode {
    enum class Kind { null, scalar, sequence, mapping };

    Kind kind = Kind::null;
    int line = 1;     // 1-based
    int column = 1;   // 1-based
    std::string text;          // scalar only
    bool plain = false;        // scalar only: unquoted and untagged, so its type follows its text
    std::vector<YamlNodePtr> items;     // sequence only
    std::vector<YamlEntry> entries;     // mapping only, in document order, without duplicates
    int height = 0;            // 0 for a scalar or null, else 1 + the largest height inside

    // The entry whose key is the scalar `key`, or nullptr.
    const YamlEntry* find(std::string_view key) const;
};

// "a scalar \"x\"", "a sequence", "a mapping", "nothing": for "expected X, got Y" messages.
std::string describe(const YamlNode& node);

// Parses the single YAML document in `text`. Returns nullptr after appending the reason to
// `errors` (with `file` and yaml-cpp's position) when the text is not YAML, holds more than one
// document, or nests deeper than k_max_yaml_depth (aliases count as the node they stand for, so
// every walk over the tree stays shallow). Duplicate keys and aliases to an enclosing
// node are appended to `errors` too, but the tree is still returned (the first key wins). An
// empty document is a null node at 1:1.
YamlNodePtr parse_yaml(std::string_view text, const std::filesystem::path& file, std::vector<ConfigError>& errors);

} // namespace sandhost::config
