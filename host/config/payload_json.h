// A schedule's payload, written in YAML, as the JSON text a job carries. Internal to config.
#pragma once

#include <string>

#include "config/field_reader.h"
#include "config/yaml_tree.h"

namespace sandhost::config {

// Appends `node` to `out` as JSON. Plain scalars that spell null, a boolean or a JSON number
// become those; every other scalar becomes a string (after `${VAR}` expansion), and must be
// valid UTF-8, as must keys, which must be scalars. Returns false after reporting the first
// problem through `reader` (or JSON beyond 1 MiB), with `out` partly written.
bool payload_to_json(FieldReader& reader, const YamlNode& node, std::string& out);

} // namespace sandhost::config
