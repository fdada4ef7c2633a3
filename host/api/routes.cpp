#include "api/routes.h"

namespace sandhost::api {

const std::vector<Route>& routes()
{
    using Access = Route::Access;
    static const std::vector<Route> table = {
        {"GET", {"healthz"}, Access::open, get_healthz},
        {"GET", {"readyz"}, Access::open, get_readyz},
        {"GET", {"metrics"}, Access::metrics, get_metrics},
        {"POST", {"api", "v1", "jobs"}, Access::token, post_job},
        {"POST", {"api", "v1", "jobs", "batch"}, Access::token, post_jobs_batch},
        {"GET", {"api", "v1", "jobs"}, Access::token, get_jobs},
        {"GET", {"api", "v1", "jobs", "*"}, Access::token, get_job},
        {"POST", {"api", "v1", "jobs", "*", "cancel"}, Access::token, post_job_cancel},
        {"POST", {"api", "v1", "jobs", "*", "retry"}, Access::token, post_job_retry},
        {"POST", {"api", "v1", "jobs", "*", "promote"}, Access::token, post_job_promote},
        {"DELETE", {"api", "v1", "jobs", "*"}, Access::token, delete_job},
        {"GET", {"api", "v1", "queues"}, Access::token, get_queues},
        {"POST", {"api", "v1", "queues", "*", "pause"}, Access::token, post_queue_pause},
        {"POST", {"api", "v1", "queues", "*", "resume"}, Access::token, post_queue_resume},
        {"POST", {"api", "v1", "queues", "*", "retry"}, Access::token, post_queue_retry},
        {"POST", {"api", "v1", "queues", "*", "cancel"}, Access::token, post_queue_cancel},
        {"POST", {"api", "v1", "queues", "*", "promote"}, Access::token, post_queue_promote},
        {"GET", {"api", "v1", "hosts"}, Access::token, get_hosts},
        {"GET", {"api", "v1", "plugins"}, Access::token, get_plugins},
        {"GET", {"api", "v1", "schedules"}, Access::token, get_schedules},
        {"POST", {"api", "v1", "schedules", "*", "run"}, Access::token, post_schedule_run},
        {"GET", {"api", "v1", "events"}, Access::token, get_events},
        {"GET", {"api", "v1", "stats", "attempts"}, Access::token, get_attempt_stats},
        // The dashboard's own files hold no data: they load without the token and then ask
        // for it before their first call.
        {"GET", {}, Access::open, get_dashboard},
        {"GET", {"dashboard.js"}, Access::open, get_dashboard_script},
        {"GET", {"dashboard.css"}, Access::open, get_dashboard_style},
    };
    return table;
}

} // namespace sandhost::api
