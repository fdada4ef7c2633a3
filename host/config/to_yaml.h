// Settings back to YAML, for `sandhost validate --print`: every value resolved and every
// default spelled out, so a reader sees exactly what a host will do. Loading the output gives
// equal settings (apart from source_file, included_files and the defined_at locations, which
// the output names in comments).
#pragma once

#include <string>

#include "config/settings.h"

namespace sandhost::config {

std::string to_yaml(const Settings& settings);

} // namespace sandhost::config
