// The store's schema in a SQLite file: versioned with PRAGMA user_version, marked with
// PRAGMA application_id, migrated step by step on open. Internal to the store.
#pragma once

#include "store/sqlite_connection.h"

#include <string>
#include <string_view>

namespace sandhost::store::sqlite {

// The conditions on a job's state that the partial indexes are written with since version 5,
// for the column `state` of the jobs table or of an alias ("o.state"). A statement repeats the
// condition word for word to use the index. They are comparisons, not `state IN (...)`: SQLite
// builds a temporary b-tree for each IN list it evaluates, and every statement that writes a
// job evaluates each partial index's condition (twice for an UPDATE: before and after).
// Version 5's text: a later change is a new version with its own.
std::string not_started_condition(std::string_view state = "state");  // waiting, delayed or blocked
std::string unfinished_condition(std::string_view state = "state");   // neither completed, dead nor cancelled
std::string finished_condition(std::string_view state = "state");     // completed, dead or cancelled

// Reads the file's schema version and owner without writing anything. Throws StoreError when
// the file is not a SQLite database (or is corrupt), belongs to another application, or was
// written by a newer sandhost; the file is then left as it was.
void check_schema(Connection& connection);

// Brings an older (or empty) file to k_sqlite_schema_version in one write transaction; a
// no-op when it is current. Safe when several processes open the same new file at once.
void migrate_schema(Connection& connection);

} // namespace sandhost::store::sqlite
