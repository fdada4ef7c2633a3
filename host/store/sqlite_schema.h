// The store's schema in a SQLite file: versioned with PRAGMA user_version, marked with
// PRAGMA application_id, migrated step by step on open. Internal to the store.
#pragma once

#include "store/sqlite_connection.h"

namespace sandhost::store::sqlite {

// Reads the file's schema version and owner without writing anything. Throws StoreError when
// the file is not a SQLite database (or is corrupt), belongs to another application, or was
// written by a newer sandhost; the file is then left as it was.
void check_schema(Connection& connection);

// Brings an older (or empty) file to k_sqlite_schema_version in one write transaction; a
// no-op when it is current. Safe when several processes open the same new file at once.
void migrate_schema(Connection& connection);

} // namespace sandhost::store::sqlite
