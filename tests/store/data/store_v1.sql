-- A store of schema version 1, as sandhost 465fdf0 wrote it through its Store API (jobs in
-- every state, a purged job, attempts, dependencies, a paused queue, a schedule, two host
-- registrations), then dumped with `sqlite3 FILE .dump`. The dump leaves out the header fields
-- that mark the file: they come first. Never edit the rest: files like it exist, and
-- sqlite_migration_test checks that they migrate.
PRAGMA application_id = 1936225140;
PRAGMA user_version = 1;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE jobs (
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
        );
INSERT INTO jobs VALUES(1,'default','hello.greet',X'7b226e223a20317d',3,'completed',1700000000000,1700000000020,1700000000000,NULL,NULL,NULL,NULL,1,1,0,X'7b226772656574696e67223a20226869227d',NULL,NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(3,'default','legacy_c.checksum',X'7b226e223a20317d',0,'waiting',1700000000030,1700000000032,1700000000032,NULL,NULL,NULL,5,1,1,1,NULL,X'636865636b73756d206d69736d61746368',NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(4,'slow','hello.greet',X'7b226e223a20317d',-2,'delayed',1700000000040,1700000000040,1700000600040,3600000,1700003600040,5000,NULL,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(5,'default','hello.greet',X'7b226e223a20317d',0,'blocked',1700000000041,1700000000041,1700000000041,NULL,NULL,NULL,NULL,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(6,'busy','hello.sleep',X'7b226e223a20317d',0,'active',1700000000042,1700000000043,1700000000042,NULL,NULL,NULL,NULL,1,1,0,NULL,NULL,40.0,X'616c6d6f73742068616c66',4,'host-a/m:1:x',1700000030043,0,'');
INSERT INTO jobs VALUES(7,'default','hello.greet',X'7b226e223a20317d',0,'cancelled',1700000000044,1700000000045,1700000000044,NULL,NULL,NULL,NULL,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(8,'default','hello.greet',X'7b226e223a20317d',0,'waiting',1700000000050,1700000000050,1700000000050,NULL,NULL,NULL,NULL,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,'nightly');
INSERT INTO jobs VALUES(9,'default','hello.fail',X'7b226e223a20317d',0,'dead',1700000000060,1700000000070,1700000000060,10,1700000000070,NULL,NULL,0,0,0,NULL,X'657870697265643a206e6f7420737461727465642077697468696e206974732074746c',NULL,NULL,NULL,NULL,NULL,0,'');
CREATE TABLE job_dependencies (
            job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            depends_on INTEGER NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (job_id, depends_on)
        ) WITHOUT ROWID;
INSERT INTO job_dependencies VALUES(3,1,0);
INSERT INTO job_dependencies VALUES(5,1,1);
INSERT INTO job_dependencies VALUES(5,3,0);
CREATE TABLE attempts (
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
        );
INSERT INTO attempts VALUES(2,1,'default',1,'host-a/m:1:x',1700000000010,1700000000020,'succeeded',X'7b226f7574636f6d65223a22737563636565646564222c22726573756c74223a22222c2269736f6c6174696f6e223a22737061776e222c226475726174696f6e5f6d73223a31302c22706964223a343234322c227374646f75745f7461696c223a2273616964206869222c227374646572725f7461696c223a22222c22737461727465645f6174223a22323032332d31312d31345432323a31333a32302e3031305a222c22656e6465645f6174223a22323032332d31312d31345432323a31333a32302e3032305a227d',NULL,1);
INSERT INTO attempts VALUES(3,3,'default',1,'host-a/m:1:x',1700000000031,1700000000032,'crashed',X'7b226f7574636f6d65223a2263726173686564222c226572726f72223a22636865636b73756d206d69736d61746368222c2269736f6c6174696f6e223a22737061776e222c226475726174696f6e5f6d73223a312c22706964223a343234322c227374646f75745f7461696c223a22222c227374646572725f7461696c223a22222c22737461727465645f6174223a22323032332d31312d31345432323a31333a32302e3033315a222c22656e6465645f6174223a22323032332d31312d31345432323a31333a32302e3033325a227d',NULL,0);
INSERT INTO attempts VALUES(4,6,'busy',1,'host-a/m:1:x',1700000000043,NULL,NULL,NULL,NULL,0);
CREATE TABLE paused_queues (queue TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO paused_queues VALUES('slow');
CREATE TABLE schedules (
            name TEXT PRIMARY KEY,
            last_fire_time INTEGER NOT NULL,
            last_job_id INTEGER,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
INSERT INTO schedules VALUES('nightly',1700000000050,8,1700000000050);
CREATE TABLE hosts (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            heartbeat_at INTEGER NOT NULL
        ) WITHOUT ROWID;
INSERT INTO hosts VALUES('host-a','host-a/m:1:x',1700000000046);
INSERT INTO hosts VALUES('host-b','host-b/m:2:y',1700000000047);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('jobs',9);
INSERT INTO sqlite_sequence VALUES('attempts',4);
CREATE INDEX jobs_by_queue_state ON jobs (queue, state, priority DESC, run_at, id);
CREATE INDEX jobs_delayed ON jobs (queue, run_at) WHERE state = 'delayed';
CREATE INDEX jobs_expiring ON jobs (expires_at)
            WHERE expires_at IS NOT NULL AND state IN ('waiting', 'delayed', 'blocked');
CREATE INDEX jobs_by_state ON jobs (state, updated_at);
CREATE INDEX job_dependents ON job_dependencies (depends_on, job_id);
CREATE INDEX attempts_by_queue ON attempts (queue, started_at);
COMMIT;
