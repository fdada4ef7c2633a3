#include "model/sandbox_settings.h"

namespace sandhost::model {

const char* to_string(Mode mode) { return name_in(k_mode_names, mode); }
std::optional<Mode> mode_from_string(std::string_view text) { return value_in(k_mode_names, text); }
const char* to_string(Fallback fallback) { return name_in(k_fallback_names, fallback); }
std::optional<Fallback> fallback_from_string(std::string_view text) { return value_in(k_fallback_names, text); }

const char* to_string(CgroupUse use) { return name_in(k_cgroup_use_names, use); }
std::optional<CgroupUse> cgroup_use_from_string(std::string_view text) { return value_in(k_cgroup_use_names, text); }

} // namespace sandhost::model
