// The dashboard at /: one HTML page, its script and its style sheet, compiled into the binary
// from host/api/dashboard/ (dashboard_assets.h). Nothing is fetched from anywhere else.
#include "api/dashboard_assets.h"
#include "api/routes.h"

namespace sandhost::api {
namespace {

void send_asset(Exchange& exchange, const std::string& content_type, std::string_view body)
{
    auto& response = exchange.response();
    // The page, its script and its style come from here only; the script talks to this origin.
    response.set("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
                 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    response.set("Referrer-Policy", "no-referrer");
    response.set("Cache-Control", "no-cache");
    exchange.reply(200, content_type, body);
}

} // namespace

void get_dashboard(Context&, Exchange& exchange) { send_asset(exchange, "text/html; charset=utf-8", k_dashboard_html); }
void get_dashboard_script(Context&, Exchange& exchange) { send_asset(exchange, "text/javascript; charset=utf-8", k_dashboard_js); }
void get_dashboard_style(Context&, Exchange& exchange) { send_asset(exchange, "text/css; charset=utf-8", k_dashboard_css); }

} // namespace sandhost::api
