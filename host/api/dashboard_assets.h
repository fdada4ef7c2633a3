// The dashboard's files, compiled in from host/api/dashboard/ by embed_assets.cmake.
#pragma once

#include <string_view>

namespace sandhost::api {

extern const std::string_view k_dashboard_html;
extern const std::string_view k_dashboard_js;
extern const std::string_view k_dashboard_css;

} // namespace sandhost::api
