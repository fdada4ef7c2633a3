// The Redis store (redis_store.h) as a class, for the files that implement it, one concern each:
// redis_store.cpp (opening, calling the server, reading a job), redis_jobs.cpp (enqueue, claims,
// the end of an attempt, schedules), redis_leases.cpp (running attempts, cancel, retry,
// expiry), redis_queries.cpp (reading jobs and queues, pauses, purges, events) and
// redis_hosts.cpp. The work itself is done by the Lua scripts in redis_lua/. Internal to the
// store.
#pragma once

#include "store/redis_codec.h"
#include "store/redis_connection.h"
#include "store/redis_store.h"

#include <Poco/Exception.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandhost::store::redis {

class RedisStore final : public RedisStoreHandle {
public:
    // Connects and checks the layout version (see open_redis_store).
    explicit RedisStore(const RedisOptions& options);

    RedisPersistence persistence() override;
    const std::string& server() const override { return m_server; }

    // redis_jobs.cpp
    EnqueueResult enqueue_job(const model::NewJob& job, model::TimePoint now) override;
    std::vector<EnqueueResult> enqueue_jobs(const std::vector<model::NewJob>& jobs, model::TimePoint now) override;
    std::optional<Claim> claim(const std::vector<QueueAllowance>& queues, const std::string& holder,
                               model::Duration lease, model::TimePoint now) override;
    std::optional<model::JobState> finish(const model::AttemptRecord& attempt, const Transition& transition,
                                          model::TimePoint now) override;
    FinishAndClaim finish_and_claim(const model::AttemptRecord& attempt, const Transition& transition,
                                    model::TimePoint now, const std::vector<QueueAllowance>& queues,
                                    const std::string& holder, model::Duration lease) override;
    std::optional<model::JobId> fire_schedule(const std::string& name, model::TimePoint fire_time,
                                              const model::NewJob& job, model::TimePoint now) override;
    std::optional<model::TimePoint> schedule_last_fire(const std::string& name) override;
    void import_jobs(const std::vector<JobCopy>& jobs, model::TimePoint now) override;
    void import_schedule(const std::string& name, model::TimePoint last_fire) override;
    std::int64_t continue_events(std::int64_t after, const std::string& from, model::TimePoint now) override;
    std::vector<std::pair<std::string, std::string>> unclaimable_tasks(const std::vector<QueueAllowance>& queues) override;

    // redis_leases.cpp
    bool renew(model::JobId job, model::AttemptId attempt, model::TimePoint expires_at) override;
    bool set_progress(model::JobId job, model::AttemptId attempt, const model::Progress& progress) override;
    std::vector<LostAttempt> lost_attempts(const std::string& host_name, const std::string& holder,
                                           model::TimePoint now) override;
    std::optional<model::JobState> recover(const model::AttemptRecord& attempt, const Transition& transition,
                                           model::TimePoint now) override;
    std::vector<model::JobId> cancel_requests(const std::string& holder) override;
    CancelResult cancel(model::JobId job, model::TimePoint now) override;
    bool retry(model::JobId job, model::TimePoint now) override;
    bool promote(model::JobId job, model::TimePoint now) override;
    std::vector<ActionResult> change_jobs(JobAction action, const std::vector<model::JobId>& jobs, model::TimePoint now) override;
    std::size_t expire(model::TimePoint now) override;

    // redis_queries.cpp
    std::optional<model::Job> get(model::JobId job) override;
    std::vector<model::AttemptRecord> attempts(model::JobId job) override;
    std::vector<model::Job> list(const JobFilter& filter) override;
    std::vector<model::JobId> job_ids(const std::string& queue, model::JobState state, const std::optional<std::string>& task,
                                      std::optional<model::TimePoint> changed_since) override;
    std::map<std::string, QueueCounts> queue_counts(const std::vector<std::string>& queues) override;
    std::map<model::JobId, std::string> results(const std::vector<model::JobId>& jobs) override;
    void set_paused(const std::string& queue, bool paused) override;
    std::vector<std::string> paused_queues() override;
    RemoveResult remove(model::JobId job) override;
    std::size_t purge(model::JobState state, model::TimePoint older_than) override;
    std::size_t trim(const std::string& queue, model::JobState state, const model::RetentionLimit& limit,
                     model::TimePoint now, std::size_t batch) override;
    std::vector<Event> events_after(std::int64_t after, std::size_t limit) override;

    // redis_hosts.cpp
    bool register_host(const std::string& host_name, const std::string& holder, model::TimePoint now,
                       model::Duration stale_after) override;
    void take_over_host(const std::string& host_name, const std::string& holder, model::TimePoint now) override;
    std::optional<std::pair<std::string, model::TimePoint>> host_registration(const std::string& host_name) override;
    bool publish_host(const std::string& host_name, const std::string& holder, const std::string& version,
                      const std::vector<model::ServedQueue>& queues, const model::PluginCatalog& catalog,
                      model::TimePoint now) override;
    bool heartbeat(const std::string& host_name, const std::string& holder, const model::HostStatus& status,
                   model::TimePoint now) override;
    void unregister_host(const std::string& host_name, const std::string& holder, model::TimePoint now) override;
    std::vector<model::HostRecord> hosts() override;

private:
    // Runs `body` with a connection of the pool and turns every failure into StoreError naming
    // the server and `doing` (a script's request error into StoreRequestError). A connection
    // that failed is dropped; the next call connects again.
    template <class Body>
    auto call(const char* doing, Body&& body) -> decltype(body(std::declval<Connection&>()));

    // Runs `script` at `now` with `args` and returns what `read` makes of the reply (a call of
    // its own).
    template <class Read>
    auto run(const char* doing, Script script, model::TimePoint now, const ScriptArgs& args, Read&& read)
    {
        return call(doing, [&](Connection& connection) {
            return read(connection.run(script, m_options.prefix, to_millis(now), args));
        });
    }
    // Runs one plain command (a read of one key) and returns what `read` makes of the reply.
    template <class Read>
    auto command(const char* doing, const Poco::Redis::Array& command, Read&& read)
    {
        return call(doing, [&](Connection& connection) { return read(connection.command(command)); });
    }

    // The key PREFIXname.
    std::string key(const std::string& name) const { return m_options.prefix + name; }

    // The arguments of end_attempt (lib_attempt.lua) for `attempt` and `transition`.
    ScriptArgs end_attempt_args(const model::AttemptRecord& attempt, const Transition& transition) const;

    RedisOptions m_options;
    std::string m_server;
    ConnectionPool m_pool;
};

template <class Body>
auto RedisStore::call(const char* doing, Body&& body) -> decltype(body(std::declval<Connection&>()))
{
    std::unique_ptr<Connection> connection;
    auto failed = [&](const std::string& why) { return StoreError(m_server + ": " + doing + ": " + why); };
    try {
        connection = m_pool.take();
        auto result = body(*connection);
        m_pool.give_back(std::move(connection));
        return result;
    } catch (const ServerError& e) {
        // The server answered: the connection is still good.
        if (connection) m_pool.give_back(std::move(connection));
        const std::string_view message = e.what();
        if (message.starts_with(k_request_error)) throw StoreRequestError(std::string(message.substr(k_request_error.size())));
        throw failed(std::string(message));
    } catch (const ReplyError& e) {
        // Read whole, but not what this code wrote.
        if (connection) m_pool.give_back(std::move(connection));
        throw failed(std::string("unexpected reply: ") + e.what());
    } catch (const Poco::Exception& e) {
        m_pool.drop_idle();
        throw failed(e.displayText());
    } catch (const std::exception& e) {
        m_pool.drop_idle();
        throw failed(e.what());
    }
}

// The arguments of read_new_job (lib_jobs.lua).
void add_new_job(ScriptArgs& args, const model::NewJob& job);
// The arguments of read_allowances (lib_claim.lua).
void add_allowances(ScriptArgs& args, const std::vector<QueueAllowance>& queues);

} // namespace sandhost::store::redis
