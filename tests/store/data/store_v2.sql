-- A store of schema version 2, as sandhost c870171 wrote it through its Store API (jobs in
-- every state, a retried attempt, dependencies, progress, a paused queue, a schedule, a host
-- with its published catalog and heartbeat, a stopped host), then dumped with
-- `sqlite3 FILE .dump`. The dump leaves out the header fields that mark the file: they come
-- first. Never edit the rest: files like it exist, and sqlite_migration_test checks that they
-- migrate.
PRAGMA application_id = 1936225140;
PRAGMA user_version = 2;
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
INSERT INTO jobs VALUES(1,'default','hello.greet',X'7b226e616d65223a20227632227d',2,'completed',1700000000000,1700000000012,1700000000000,NULL,NULL,NULL,NULL,1,1,0,X'7b226772656574696e67223a202268656c6c6f207632227d',NULL,NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(2,'default','misbehave.fail',X'7b7d',0,'dead',1700000000001,1700000000015,1700000000001,NULL,NULL,NULL,NULL,1,1,0,NULL,X'6974206661696c6564',NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(3,'default','hello.greet',X'7b7d',0,'delayed',1700000000016,1700000000024,1700000001024,NULL,NULL,NULL,NULL,1,1,1,NULL,X'63726173686564',NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(4,'default','hello.greet',X'7b7d',0,'blocked',1700000000017,1700000000017,1700000000017,NULL,NULL,NULL,NULL,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(5,'slow','hello.greet',X'7b7d',-1,'delayed',1700000000018,1700000000018,1700000600018,3600000,1700003600018,NULL,NULL,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(6,'default','hello.greet',X'7b226e223a20367d',0,'active',1700000000019,1700000000023,1700000000019,NULL,NULL,NULL,NULL,1,1,0,NULL,NULL,40.0,X'666f727479',4,'host-a/m:7:v2',1700000030023,0,'');
INSERT INTO jobs VALUES(7,'other','hello.greet',X'7b7d',0,'cancelled',1700000000020,1700000000021,1700000000020,NULL,NULL,NULL,NULL,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,'');
INSERT INTO jobs VALUES(8,'default','hello.greet',X'7b7d',0,'waiting',1700000000025,1700000000025,1700000000025,NULL,NULL,NULL,NULL,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,'hourly');
CREATE TABLE job_dependencies (
            job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            depends_on INTEGER NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (job_id, depends_on)
        ) WITHOUT ROWID;
INSERT INTO job_dependencies VALUES(3,1,0);
INSERT INTO job_dependencies VALUES(4,3,0);
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
INSERT INTO attempts VALUES(1,1,'default',1,'host-a/m:7:v2',1700000000010,1700000000012,'succeeded',X'7b226f7574636f6d65223a22737563636565646564222c22726573756c74223a22222c2269736f6c6174696f6e223a22737061776e222c226475726174696f6e5f6d73223a352c22706964223a3730312c227374646f75745f7461696c223a226f75742031222c227374646572725f7461696c223a22222c22737461727465645f6174223a22323032332d31312d31345432323a31333a32302e3030375a222c22656e6465645f6174223a22323032332d31312d31345432323a31333a32302e3031325a227d',NULL,1);
INSERT INTO attempts VALUES(2,2,'default',1,'host-a/m:7:v2',1700000000013,1700000000015,'failed',X'7b226f7574636f6d65223a226661696c6564222c226572726f72223a226974206661696c6564222c227065726d616e656e74223a747275652c2269736f6c6174696f6e223a22737061776e222c226475726174696f6e5f6d73223a352c22706964223a3730322c227374646f75745f7461696c223a226f75742032222c227374646572725f7461696c223a22222c22737461727465645f6174223a22323032332d31312d31345432323a31333a32302e3031305a222c22656e6465645f6174223a22323032332d31312d31345432323a31333a32302e3031355a227d',NULL,0);
INSERT INTO attempts VALUES(3,3,'default',1,'host-a/m:7:v2',1700000000022,1700000000024,'crashed',X'7b226f7574636f6d65223a2263726173686564222c227369676e616c223a2253494753454756222c227369676e616c5f6e756d626572223a31312c22636f72655f64756d706564223a66616c73652c2269736f6c6174696f6e223a22737061776e222c226475726174696f6e5f6d73223a352c22706964223a3730332c227374646f75745f7461696c223a226f75742033222c227374646572725f7461696c223a22222c22737461727465645f6174223a22323032332d31312d31345432323a31333a32302e3031395a222c22656e6465645f6174223a22323032332d31312d31345432323a31333a32302e3032345a227d',NULL,0);
INSERT INTO attempts VALUES(4,6,'default',1,'host-a/m:7:v2',1700000000023,NULL,NULL,NULL,NULL,0);
CREATE TABLE paused_queues (queue TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO paused_queues VALUES('slow');
CREATE TABLE schedules (
            name TEXT PRIMARY KEY,
            last_fire_time INTEGER NOT NULL,
            last_job_id INTEGER,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
INSERT INTO schedules VALUES('hourly',1700003600000,8,1700000000025);
CREATE TABLE hosts (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            heartbeat_at INTEGER NOT NULL
        , version TEXT NOT NULL DEFAULT '', started_at INTEGER NOT NULL DEFAULT 0, stopped_at INTEGER, queues TEXT, catalog TEXT, catalog_at INTEGER, status TEXT) WITHOUT ROWID;
INSERT INTO hosts VALUES('host-a','host-a/m:7:v2',1700000000026,'0.1.0',1700000000005,NULL,'[{"name":"default","tasks":["hello.*","misbehave.*"]},{"name":"slow","tasks":["hello.greet"]}]','{"dirs":["/opt/plugins"],"plugins":[{"name":"hello","path":"/opt/plugins/hello.so","version":"1.0.0","tasks":[{"name":"greet","description":"says hello"}]}]}',1700000000006,'{"running":[{"job":6,"attempt":1,"queue":"default","task":"hello.greet","pid":804,"started_at_ms":1700000000023}],"workers":[{"pid":804,"mode":"spawn","role":"job","plugin":"hello.so","rss_kb":2048}],"broken_plugins":[]}');
INSERT INTO hosts VALUES('host-b','host-b/m:8:v2',1700000000007,'',1700000000007,1700000000027,NULL,NULL,NULL,NULL);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('jobs',8);
INSERT INTO sqlite_sequence VALUES('attempts',4);
CREATE INDEX jobs_by_queue_state ON jobs (queue, state, priority DESC, run_at, id);
CREATE INDEX jobs_expiring ON jobs (expires_at)
            WHERE expires_at IS NOT NULL AND state IN ('waiting', 'delayed', 'blocked');
CREATE INDEX jobs_by_state ON jobs (state, updated_at);
CREATE INDEX job_dependents ON job_dependencies (depends_on, job_id);
CREATE INDEX attempts_by_queue ON attempts (queue, started_at);
COMMIT;
