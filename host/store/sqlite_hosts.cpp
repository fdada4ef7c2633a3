// Host records: who holds a host name, what the host publishes, and its heartbeats.
#include "store/sqlite_store_impl.h"

namespace sandhost::store::sqlite {

bool SqliteStore::register_host(const std::string& host_name, const std::string& holder, model::TimePoint now,
                                model::Duration stale_after)
{
    return serialized("registering the host", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        {
            Query row = m_db.query("SELECT holder, heartbeat_at, stopped_at IS NULL FROM hosts WHERE name = ?");
            row.bind(host_name);
            if (row.step() && row.bytes(0) != holder && row.int64(2) != 0 &&
                to_millis(now) - row.int64(1) < stale_after.count()) {
                return false;
            }
        }
        start_host(host_name, holder, now);
        transaction.commit();
        return true;
    });
}

void SqliteStore::take_over_host(const std::string& host_name, const std::string& holder, model::TimePoint now)
{
    serialized("taking over the host registration", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        start_host(host_name, holder, now);
        transaction.commit();
    });
}

std::optional<std::pair<std::string, model::TimePoint>> SqliteStore::host_registration(const std::string& host_name)
{
    return serialized("reading the host registration", [&]() -> std::optional<std::pair<std::string, model::TimePoint>> {
        Query row = m_db.query("SELECT holder, heartbeat_at FROM hosts WHERE name = ?");
        row.bind(host_name);
        if (!row.step()) return std::nullopt;
        return std::make_pair(row.bytes(0), from_millis(row.int64(1)));
    });
}

bool SqliteStore::publish_host(const std::string& host_name, const std::string& holder, const std::string& version,
                               const std::vector<model::ServedQueue>& queues, const model::PluginCatalog& catalog,
                               model::TimePoint now)
{
    return serialized("publishing the host's catalog", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        const auto changed = run("UPDATE hosts SET version = ?, queues = ?, catalog = ?, catalog_at = ? "
                                 "WHERE name = ? AND holder = ? AND stopped_at IS NULL",
                                 version, model::to_json(queues), model::to_json(catalog), to_millis(now),
                                 host_name, holder);
        transaction.commit();
        return changed == 1;
    });
}

bool SqliteStore::heartbeat(const std::string& host_name, const std::string& holder, const model::HostStatus& status,
                            model::TimePoint now)
{
    return serialized("recording the host's heartbeat", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        const auto changed = run("UPDATE hosts SET heartbeat_at = ?, status = ? "
                                 "WHERE name = ? AND holder = ? AND stopped_at IS NULL",
                                 to_millis(now), model::to_json(status), host_name, holder);
        transaction.commit();
        return changed == 1;
    });
}

void SqliteStore::unregister_host(const std::string& host_name, const std::string& holder, model::TimePoint now)
{
    serialized("unregistering the host", [&] {
        Transaction transaction(m_db, TransactionKind::write);
        if (run("UPDATE hosts SET stopped_at = ?, status = NULL WHERE name = ? AND holder = ? AND stopped_at IS NULL",
                to_millis(now), host_name, holder) == 1) {
            other_event(EventType::host_gone, now, {}, host_name, holder);
        }
        transaction.commit();
    });
}

std::vector<model::HostRecord> SqliteStore::hosts()
{
    return serialized("reading the host records", [&] {
        std::vector<model::HostRecord> records;
        Query row = m_db.query("SELECT name, holder, version, started_at, heartbeat_at, stopped_at, queues, "
                               "catalog, catalog_at, status FROM hosts ORDER BY name");
        while (row.step()) records.push_back(host_from_row(row));
        return records;
    });
}

void SqliteStore::start_host(const std::string& host_name, const std::string& holder, model::TimePoint now)
{
    run("INSERT INTO hosts (name, holder, started_at, heartbeat_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, started_at = excluded.started_at, "
        "heartbeat_at = excluded.heartbeat_at, stopped_at = NULL, status = NULL",
        host_name, holder, to_millis(now), to_millis(now));
    other_event(EventType::host_up, now, {}, host_name, holder);
}

model::HostRecord SqliteStore::host_from_row(const Query& row) const
{
    model::HostRecord host;
    host.name = row.bytes(0);
    host.holder = row.bytes(1);
    host.version = row.bytes(2);
    host.started_at = from_millis(row.int64(3));
    host.heartbeat_at = from_millis(row.int64(4));
    if (auto stopped_at = row.optional_int64(5)) host.stopped_at = from_millis(*stopped_at);
    auto unreadable = [&](const char* what) {
        return StoreError(m_db.file().string() + ": the " + what + " of host " + host.name +
                          " in the store cannot be read");
    };
    if (auto queues = row.optional_bytes(6)) {
        auto decoded = model::served_queues_from_json(*queues);
        if (!decoded) throw unreadable("served queues");
        host.queues = std::move(*decoded);
    }
    if (auto catalog = row.optional_bytes(7)) {
        auto decoded = model::catalog_from_json(*catalog);
        if (!decoded) throw unreadable("plugin catalog");
        host.catalog = std::move(*decoded);
    }
    if (auto catalog_at = row.optional_int64(8)) host.catalog_at = from_millis(*catalog_at);
    if (auto status = row.optional_bytes(9)) {
        auto decoded = model::host_status_from_json(*status);
        if (!decoded) throw unreadable("status");
        host.status = std::move(*decoded);
    }
    return host;
}

} // namespace sandhost::store::sqlite
