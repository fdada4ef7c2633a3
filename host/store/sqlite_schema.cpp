#include "store/sqlite_schema.h"

#include <array>
#include <cstdio>

namespace sandhost::store::sqlite {

std::string not_started_condition(std::string_view state)
{
    const std::string s(state);
    return "(" + s + " = 'waiting' OR " + s + " = 'delayed' OR " + s + " = 'blocked')";
}

std::string unfinished_condition(std::string_view state)
{
    const std::string s(state);
    return s + " <> 'completed' AND " + s + " <> 'dead' AND " + s + " <> 'cancelled'";
}

std::string finished_condition(std::string_view state)
{
    const std::string s(state);
    return "(" + s + " = 'completed' OR " + s + " = 'dead' OR " + s + " = 'cancelled')";
}

namespace {

// Version 0 -> 1: the first schema.
//
// Job and attempt ids are AUTOINCREMENT so that a purged id is never handed out again: a CLI
// or a host holding an old id must never see another job, and an attempt id is a fencing
// token. Payloads, results, errors and messages are BLOBs (kept byte for byte); names are
// TEXT. The CHECK ties the lease to the active state, so a job can never be both active and
// finished, whatever a crash interrupted.
void migrate_to_1(Connection& c)
{
    static const std::array<const char*, 12> statements{{
        R"(CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            queue TEXT NOT NULL,
            task TEXT NOT NULL,
            payload BLOB NOT NULL,
            priority INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN
                ('waiting', 'delayed', 'blocked', 'active', 'completed', 'dead', 'cancelled')),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            run_at INTEGER NOT NULL,
            ttl_ms INTEGER,
            expires_at INTEGER,
            timeout_ms INTEGER,
            max_attempts INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            attempts_since_retry INTEGER NOT NULL DEFAULT 0,
            lost INTEGER NOT NULL DEFAULT 0,
            result BLOB,
            error BLOB,
            progress_percent REAL,
            progress_message BLOB,
            attempt_id INTEGER,
            lease_holder TEXT,
            lease_expires_at INTEGER,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            schedule TEXT NOT NULL DEFAULT '',
            CHECK ((state = 'active') =
                   (attempt_id IS NOT NULL AND lease_holder IS NOT NULL AND lease_expires_at IS NOT NULL))
        ))",
        // Claim: the best waiting job of a queue is the first entry of this index.
        "CREATE INDEX jobs_by_queue_state ON jobs (queue, state, priority DESC, run_at, id)",
        // Claim: delayed jobs that are due, without walking the ones that are not. Not read
        // since claim walks jobs_by_queue_state priority by priority; version 2 drops it.
        "CREATE INDEX jobs_delayed ON jobs (queue, run_at) WHERE state = 'delayed'",
        // expire: jobs with a ttl that have not started.
        R"(CREATE INDEX jobs_expiring ON jobs (expires_at)
            WHERE expires_at IS NOT NULL AND state IN ('waiting', 'delayed', 'blocked'))",
        // purge, listing by state, and the active jobs (lost_attempts, cancel_requests).
        "CREATE INDEX jobs_by_state ON jobs (state, updated_at)",
        // A dependency may name a job that was purged later (purge keeps the jobs that a
        // job still waiting depends on), so depends_on is not a foreign key.
        R"(CREATE TABLE job_dependencies (
            job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            depends_on INTEGER NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (job_id, depends_on)
        ) WITHOUT ROWID)",
        "CREATE INDEX job_dependents ON job_dependencies (depends_on, job_id)",
        // One row per claim, written by the claim (so rate limits count attempts still
        // running) and completed by finish or recover. outcome is NULL while it runs. record
        // is the Outcome as JSON without its result; the result is in `result`, or, when
        // result_in_job, it is the job's result (not stored twice: up to 64 MiB each).
        R"(CREATE TABLE attempts (
            attempt_id INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            queue TEXT NOT NULL,
            number INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            outcome TEXT,
            record BLOB,
            result BLOB,
            result_in_job INTEGER NOT NULL DEFAULT 0,
            UNIQUE (job_id, number)
        ))",
        // Rate limits: attempts of a queue started in a window.
        "CREATE INDEX attempts_by_queue ON attempts (queue, started_at)",
        "CREATE TABLE paused_queues (queue TEXT PRIMARY KEY) WITHOUT ROWID",
        R"(CREATE TABLE schedules (
            name TEXT PRIMARY KEY,
            last_fire_time INTEGER NOT NULL,
            last_job_id INTEGER,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID)",
        R"(CREATE TABLE hosts (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            heartbeat_at INTEGER NOT NULL
        ) WITHOUT ROWID)",
    }};
    for (const char* sql : statements) c.execute(sql);
    c.execute("PRAGMA application_id = " + std::to_string(k_sqlite_application_id));
}

// Version 1 -> 2: host records. A host's row stays when it stops (stopped_at), and holds what
// it published (version, served queues, plugin catalog) and what its last heartbeat said
// (status). queues, catalog and status are JSON (the codecs of model/host_record.h and
// model/plugin_catalog.h), NULL until first written. Columns are added, not the table rebuilt:
// a version 1 host that has the file open keeps registering and unregistering through its
// prepared statements, which name only the version 1 columns. A registration kept from version
// 1 started, as far as anyone knows, when it last beat.
//
// jobs_delayed goes: no statement has read it since claims walk jobs_by_queue_state, and every
// write of a delayed job paid for it.
void migrate_to_2(Connection& c)
{
    static const std::array<const char*, 9> statements{{
        "ALTER TABLE hosts ADD COLUMN version TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE hosts ADD COLUMN started_at INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE hosts ADD COLUMN stopped_at INTEGER",
        "ALTER TABLE hosts ADD COLUMN queues TEXT",
        "ALTER TABLE hosts ADD COLUMN catalog TEXT",
        "ALTER TABLE hosts ADD COLUMN catalog_at INTEGER",
        "ALTER TABLE hosts ADD COLUMN status TEXT",
        "UPDATE hosts SET started_at = heartbeat_at",
        "DROP INDEX jobs_delayed",
    }};
    for (const char* sql : statements) c.execute(sql);
}

// Version 2 -> 3: idempotency keys and the event feed.
//
// A job keeps the key it was enqueued with (NULL: none). The partial unique index holds the
// keys of unfinished jobs only: while a job with a key has not finished, a second job of the
// same queue with that key cannot be stored, whichever process tries; once it has finished,
// the key is free again. It is also what enqueue looks the key up by.
//
// events is the feed events_after() reads: one row per change of a job, a pause or a host
// registration, written in the transaction that makes the change. Its ids come from the rowid
// (no AUTOINCREMENT, which would write sqlite_sequence on every event): trimming deletes only
// the oldest rows and never the newest, so the next id is always above every id handed out.
// Every change to a job names the job (job_id), and queue, task and state are copied from the
// job as the change left it, so that an event reads the same after the job is purged.
void migrate_to_3(Connection& c)
{
    static const std::array<const char*, 3> statements{{
        "ALTER TABLE jobs ADD COLUMN idempotency_key TEXT",
        R"(CREATE UNIQUE INDEX jobs_by_key ON jobs (queue, idempotency_key)
            WHERE idempotency_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled'))",
        R"(CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            type TEXT NOT NULL,
            job_id INTEGER,
            queue TEXT NOT NULL DEFAULT '',
            task TEXT NOT NULL DEFAULT '',
            host TEXT NOT NULL DEFAULT '',
            state TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT ''
        ))",
    }};
    for (const char* sql : statements) c.execute(sql);
}

// Version 3 -> 4: retention (Store::trim) walks a queue's finished jobs of one state by their
// last update, oldest first. A partial index: unfinished jobs, the ones claims and finishes
// write all the time, are not in it.
void migrate_to_4(Connection& c)
{
    c.execute(R"(CREATE INDEX jobs_finished ON jobs (queue, state, updated_at, id)
                 WHERE state IN ('completed', 'dead', 'cancelled'))");
}

// Version 4 -> 5: the partial indexes' conditions as comparisons instead of IN lists (see
// not_started_condition in sqlite_schema.h). Each IN list cost every claim, finish and enqueue
// a temporary b-tree per evaluation: about 10 µs per statement that writes a job on the
// development machine. Only the indexes are made again; the rows are not touched. A host of
// version 4 still running on the file cannot expire jobs any more (its INDEXED BY statement
// names the old condition) until it is restarted on this version: docs/operating.md asks for
// the hosts of a file to be upgraded together.
void migrate_to_5(Connection& c)
{
    c.execute("DROP INDEX jobs_expiring");
    c.execute("CREATE INDEX jobs_expiring ON jobs (expires_at) WHERE expires_at IS NOT NULL AND " + not_started_condition());
    c.execute("DROP INDEX jobs_by_key");
    c.execute("CREATE UNIQUE INDEX jobs_by_key ON jobs (queue, idempotency_key) WHERE idempotency_key IS NOT NULL AND " +
              unfinished_condition());
    c.execute("DROP INDEX jobs_finished");
    c.execute("CREATE INDEX jobs_finished ON jobs (queue, state, updated_at, id) WHERE " + finished_condition());
}

// k_migrations[v] takes a file from version v to v + 1. A version is one more function here;
// the ones before it stay as they are, since files of every version exist.
using Migration = void (*)(Connection&);
constexpr std::array<Migration, k_sqlite_schema_version> k_migrations{{migrate_to_1, migrate_to_2, migrate_to_3, migrate_to_4, migrate_to_5}};

struct SchemaFacts {
    int version = 0;
    std::int64_t application_id = 0;
    std::int64_t objects = 0;  // tables, indexes, views, triggers
};

// Call inside a transaction: the three reads must come from one snapshot, or another process
// migrating the file in between makes a half-read file look like someone else's database.
SchemaFacts read_facts(Connection& c)
{
    SchemaFacts facts;
    facts.version = static_cast<int>(c.query_int("PRAGMA user_version").value_or(0));
    facts.application_id = c.query_int("PRAGMA application_id").value_or(0);
    facts.objects = c.query_int("SELECT count(*) FROM sqlite_master").value_or(0);
    return facts;
}

void refuse_unusable(const Connection& c, const SchemaFacts& facts)
{
    const std::string file = c.file().string();
    if (facts.application_id != 0 && facts.application_id != k_sqlite_application_id) {
        char id[16];
        std::snprintf(id, sizeof id, "0x%08llx", static_cast<unsigned long long>(facts.application_id) & 0xffffffffULL);
        throw StoreError(file + " is a SQLite database of another application (application_id " + id +
                         "), not a sandhost store");
    }
    if (facts.version > k_sqlite_schema_version) {
        throw StoreError(file + " was written by a newer sandhost (schema " + std::to_string(facts.version) +
                         "; this one knows up to " + std::to_string(k_sqlite_schema_version) + ")");
    }
    if (facts.application_id == 0 && (facts.objects > 0 || facts.version > 0)) {
        throw StoreError(file + " is a SQLite database but not a sandhost store (it has " +
                         std::to_string(facts.objects) + " schema objects and no sandhost mark); it is left alone");
    }
}

} // namespace

void check_schema(Connection& connection)
{
    try {
        Transaction transaction(connection, TransactionKind::read);
        refuse_unusable(connection, read_facts(connection));
        transaction.commit();
    } catch (...) {
        connection.rethrow_as_store_error("reading the schema version");
    }
}

void migrate_schema(Connection& connection)
{
    try {
        {
            Transaction snapshot(connection, TransactionKind::read);
            const bool current = read_facts(connection).version == k_sqlite_schema_version;
            snapshot.commit();
            if (current) return;
        }
        Transaction transaction(connection, TransactionKind::write);
        // Another process may have migrated the file since the check above.
        const SchemaFacts facts = read_facts(connection);
        refuse_unusable(connection, facts);
        for (int version = facts.version; version < k_sqlite_schema_version; ++version) {
            k_migrations[static_cast<std::size_t>(version)](connection);
        }
        connection.execute("PRAGMA user_version = " + std::to_string(k_sqlite_schema_version));
        transaction.commit();
    } catch (...) {
        connection.rethrow_as_store_error("migrating the schema to version " + std::to_string(k_sqlite_schema_version));
    }
}

} // namespace sandhost::store::sqlite
