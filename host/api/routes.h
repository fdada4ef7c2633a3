// The API's routes: method, path pattern, who may call, and the handler, one file per group
// (jobs_routes.cpp, queue_routes.cpp, cluster_routes.cpp, event_routes.cpp, probe_routes.cpp,
// dashboard_routes.cpp). docs/api.md describes each. Internal to the API.
#pragma once

#include "api/context.h"
#include "api/exchange.h"

#include <string_view>
#include <vector>

namespace sandhost::api {

using Handler = void (*)(Context&, Exchange&);

struct Route {
    enum class Access {
        open,     // never asks for the token (/healthz, /readyz, the dashboard's files)
        token,    // asks for the token when one is set
        metrics,  // /metrics: asks when api.metrics_auth is true
    };
    std::string_view method;
    std::vector<std::string_view> pattern;  // path segments; "*" matches any one segment
    Access access;
    Handler handler;
};

// Every route, in the order they are matched.
const std::vector<Route>& routes();

// The job id in a path segment, or ApiError 404.
model::JobId job_id_in(const std::string& segment);
// A job with its attempts as the API shows it, or ApiError 404.
std::string job_json(Context& context, model::JobId id);

void get_healthz(Context& context, Exchange& exchange);
void get_readyz(Context& context, Exchange& exchange);
void get_metrics(Context& context, Exchange& exchange);
void post_job(Context& context, Exchange& exchange);
void post_jobs_batch(Context& context, Exchange& exchange);
void get_jobs(Context& context, Exchange& exchange);
void get_job(Context& context, Exchange& exchange);
void post_job_cancel(Context& context, Exchange& exchange);
void post_job_retry(Context& context, Exchange& exchange);
void post_job_promote(Context& context, Exchange& exchange);
void delete_job(Context& context, Exchange& exchange);
void get_queues(Context& context, Exchange& exchange);
void post_queue_pause(Context& context, Exchange& exchange);
void post_queue_resume(Context& context, Exchange& exchange);
void post_queue_retry(Context& context, Exchange& exchange);
void post_queue_cancel(Context& context, Exchange& exchange);
void post_queue_promote(Context& context, Exchange& exchange);
void get_hosts(Context& context, Exchange& exchange);
void get_plugins(Context& context, Exchange& exchange);
void get_schedules(Context& context, Exchange& exchange);
void post_schedule_run(Context& context, Exchange& exchange);
void get_events(Context& context, Exchange& exchange);
void get_attempt_stats(Context& context, Exchange& exchange);
void get_dashboard(Context& context, Exchange& exchange);
void get_dashboard_script(Context& context, Exchange& exchange);
void get_dashboard_style(Context& context, Exchange& exchange);

} // namespace sandhost::api
