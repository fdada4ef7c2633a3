/*
 * The sandhost client library for C programs (libsandhost-client.so; link with
 * `pkg-config --libs sandhost-client` or sandhost::client): enqueue jobs on a store and follow
 * them, with the same checks as `sandhost enqueue`. It runs no task and needs no worker
 * executable. A C program links only this library: its C++ dependencies come with it.
 *
 *     sh_client_t *client = sh_client_open_config("/etc/sandhost/sandhost.yaml");
 *     int64_t id;
 *     sh_job_t *job = NULL;
 *     if (client == NULL) { fprintf(stderr, "%s\n", sh_client_last_error()); return 1; }
 *     if (sh_client_enqueue(client, "default", "legacy_c.checksum", "{\"data\":\"hi\"}", NULL, &id) == SH_CLIENT_OK &&
 *         sh_client_wait(client, id, 30000, &job) == SH_CLIENT_OK && job->state == SH_JOB_COMPLETED)
 *         puts(job->result);
 *     sh_job_free(job);
 *     sh_client_close(client);
 *
 * Rules that hold for the whole header:
 * - Every function returns a status (SH_CLIENT_*) or a pointer that is NULL on failure; the
 *   reason, in words, is sh_client_last_error() on the same thread.
 * - Threads: a client may be used from several threads at once. Every call blocks on the store.
 * - Memory: strings passed in are copied; an sh_job_t is the caller's, freed with sh_job_free.
 * - Integers have fixed widths; the named constants are values of them.
 *
 * Valid C99 and C++17/20.
 */
#ifndef SANDHOST_CLIENT_H
#define SANDHOST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sh_client sh_client_t;

typedef int32_t sh_client_status_t;
#define SH_CLIENT_OK 0
#define SH_CLIENT_INVALID_ARGUMENT 1 /* a NULL or malformed argument */
#define SH_CLIENT_CONFIG_ERROR 2     /* the configuration file is missing or invalid */
#define SH_CLIENT_STORE_ERROR 3      /* the store cannot be opened or failed */
#define SH_CLIENT_REFUSED 4          /* the enqueue policy refused the job (see the error) */
#define SH_CLIENT_NOT_FOUND 5        /* no job of that id */
#define SH_CLIENT_TIMEOUT 6          /* sh_client_wait: not final within the timeout */
#define SH_CLIENT_WRONG_STATE 7      /* cancel of a final job, retry of one not dead or cancelled, promote of one not delayed,
                                      * remove of one not ended or still needed */
#define SH_CLIENT_NO_MEMORY 8

/* Job states; COMPLETED, DEAD and CANCELLED are final. */
typedef int32_t sh_job_state_t;
#define SH_JOB_WAITING 0
#define SH_JOB_DELAYED 1
#define SH_JOB_BLOCKED 2
#define SH_JOB_ACTIVE 3
#define SH_JOB_COMPLETED 4
#define SH_JOB_DEAD 5
#define SH_JOB_CANCELLED 6

/* Options of an enqueue. Start from SH_ENQUEUE_OPTIONS_INIT, which sets struct_size (the
 * structure may grow) and leaves everything else to the queue. */
typedef struct sh_enqueue_options {
    uint32_t struct_size;
    int32_t priority;           /* higher runs first */
    int64_t delay_ms;           /* not before now + delay; 0: at once */
    int64_t timeout_ms;         /* per attempt; 0: the queue's */
    uint32_t max_attempts;      /* 0: the queue's retry policy */
    const int64_t *depends_on;  /* jobs that must complete first; NULL when depends_on_count is 0 */
    size_t depends_on_count;
    const char *key;            /* idempotency key; NULL: none */
} sh_enqueue_options_t;
#define SH_ENQUEUE_OPTIONS_INIT {(uint32_t)sizeof(sh_enqueue_options_t), 0, 0, 0, 0, NULL, 0, NULL}

/* One job of sh_client_enqueue_batch. Start each from SH_ENQUEUE_REQUEST_INIT, which sets
 * struct_size: the library steps through the array by the first element's struct_size, so a
 * program built against an older, smaller structure keeps working. */
typedef struct sh_enqueue_request {
    uint32_t struct_size;
    const char *queue;
    const char *task;                     /* "plugin.task" */
    const char *payload_json;             /* NULL: "{}" */
    const sh_enqueue_options_t *options;  /* NULL: SH_ENQUEUE_OPTIONS_INIT */
} sh_enqueue_request_t;
#define SH_ENQUEUE_REQUEST_INIT {(uint32_t)sizeof(sh_enqueue_request_t), NULL, NULL, NULL, NULL}

/* The most jobs one sh_client_enqueue_batch call takes. */
#define SH_CLIENT_MAX_BATCH 1000

/* A job as it was when read. One allocation, the caller's: sh_job_free. */
typedef struct sh_job {
    int64_t id;
    const char *queue;
    const char *task;     /* "plugin.task" */
    const char *payload;  /* JSON text */
    sh_job_state_t state;
    int32_t priority;
    uint32_t attempts;    /* attempts started */
    const char *result;   /* the task's result (JSON text) once completed, else NULL */
    const char *error;    /* the last attempt's error or why the job is dead, else NULL */
    const char *outcome;  /* the last finished attempt's outcome ("succeeded", "crashed", ...),
                           * NULL before any ended */
    int64_t created_at_ms; /* milliseconds since the Unix epoch */
    int64_t updated_at_ms;
} sh_job_t;

/* Opens the store the configuration file names; enqueue checks against its queues. NULL on
 * failure (SH_CLIENT_CONFIG_ERROR or STORE_ERROR in words: sh_client_last_error). */
sh_client_t *sh_client_open_config(const char *config_file);

/* Opens a store by URL ("sqlite:PATH" or "redis://HOST[:PORT][/DB]"); enqueue checks against
 * the queues the store's hosts published. NULL on failure. */
sh_client_t *sh_client_open_store(const char *store_url);

/* Closes the client (NULL does nothing). No call on it may be running or follow. */
void sh_client_close(sh_client_t *client);

/* Checks the job as every front door does, stores it and sets *job_id. payload_json NULL means
 * "{}"; options NULL means SH_ENQUEUE_OPTIONS_INIT. With a key already used by an unfinished job
 * of the queue, *job_id is that job's. */
sh_client_status_t sh_client_enqueue(sh_client_t *client, const char *queue, const char *task,
                                     const char *payload_json, const sh_enqueue_options_t *options,
                                     int64_t *job_id);

/* Checks each of the `count` jobs as sh_client_enqueue does, then stores all of them in one step
 * of the store (one transaction, one round trip), or none. job_ids (count elements, the
 * caller's) receives each job's id in order; created, when not NULL, 1 for a job stored anew
 * and 0 for one whose key returned an unfinished job. More than SH_CLIENT_MAX_BATCH jobs is
 * SH_CLIENT_INVALID_ARGUMENT; a refused job is SH_CLIENT_REFUSED, named from 0 in the error
 * ("job 3: ..."), and nothing is stored. */
sh_client_status_t sh_client_enqueue_batch(sh_client_t *client, const sh_enqueue_request_t *jobs, size_t count,
                                           int64_t *job_ids, int *created);

/* Sets *job to the job as it is now (SH_CLIENT_NOT_FOUND: none of that id, *job NULL). */
sh_client_status_t sh_client_get(sh_client_t *client, int64_t job_id, sh_job_t **job);

/* Follows the job until it is final or timeout_ms has passed, then sets *job to it as it is:
 * SH_CLIENT_OK when final, SH_CLIENT_TIMEOUT (with *job set) when not. */
sh_client_status_t sh_client_wait(sh_client_t *client, int64_t job_id, int64_t timeout_ms,
                                  sh_job_t **job);

/* Cancels the job: a waiting one at once, a running one is stopped by its host. */
sh_client_status_t sh_client_cancel(sh_client_t *client, int64_t job_id);

/* Runs a dead or cancelled job again with a fresh attempt budget. */
sh_client_status_t sh_client_retry(sh_client_t *client, int64_t job_id);

/* Lets a delayed job (a delay, or a retry's backoff) run now; its attempts so far still count.
 * SH_CLIENT_WRONG_STATE when it is not delayed. */
sh_client_status_t sh_client_promote(sh_client_t *client, int64_t job_id);

/* Deletes a completed, dead or cancelled job with its attempts (its payload, result and output).
 * SH_CLIENT_WRONG_STATE when it has not ended or a job still to run depends on it. */
sh_client_status_t sh_client_remove(sh_client_t *client, int64_t job_id);

/* Which jobs of a queue sh_client_retry_jobs, sh_client_cancel_jobs and sh_client_promote_jobs
 * take. Start from
 * SH_BULK_OPTIONS_INIT, which sets struct_size and leaves every choice to the action. */
typedef struct sh_bulk_options {
    uint32_t struct_size;
    uint32_t states;   /* SH_JOB_STATE_BIT(SH_JOB_DEAD) | ...; 0: retry dead jobs, cancel waiting,
                        * delayed and blocked ones (a running job is stopped only when
                        * SH_JOB_ACTIVE is named; promote takes SH_JOB_DELAYED alone) */
    const char *task;  /* "plugin.task": only its jobs; NULL: every task */
    uint64_t limit;    /* change at most this many, newest first; 0: every one */
    int32_t dry_run;   /* nonzero: count them, change nothing */
    int64_t since_ms;  /* only jobs last changed within this many ms before the call; 0: any */
} sh_bulk_options_t;
#define SH_BULK_OPTIONS_INIT {(uint32_t)sizeof(sh_bulk_options_t), 0, NULL, 0, 0, 0}
#define SH_JOB_STATE_BIT(state) (1u << (uint32_t)(state))

/* What a bulk action did. */
typedef struct sh_bulk_result {
    uint64_t changed;    /* retried, cancelled at once or promoted (a dry run: would be) */
    uint64_t requested;  /* cancel: running jobs asked to stop */
    uint64_t skipped;    /* in another state by the time they were reached */
    uint64_t refused;    /* retry: jobs the store refused (a dead dependency, a key taken) */
    int32_t more;        /* nonzero: the limit stopped it while more jobs match */
} sh_bulk_result_t;

/* Many jobs of a queue at once, as `sandhost jobs retry|cancel|promote`, each as sh_client_retry,
 * sh_client_cancel or sh_client_promote would, state by state and newest first. *result (the caller's; NULL: not
 * wanted) says what was done. SH_CLIENT_REFUSED, with *result filled, when the store refused to
 * retry any job: the error names the first and why. SH_CLIENT_NOT_FOUND for a queue neither
 * configured nor holding jobs; SH_CLIENT_INVALID_ARGUMENT for a state the action does not take. */
sh_client_status_t sh_client_retry_jobs(sh_client_t *client, const char *queue, const sh_bulk_options_t *options,
                                        sh_bulk_result_t *result);
sh_client_status_t sh_client_cancel_jobs(sh_client_t *client, const char *queue, const sh_bulk_options_t *options,
                                         sh_bulk_result_t *result);
sh_client_status_t sh_client_promote_jobs(sh_client_t *client, const char *queue, const sh_bulk_options_t *options,
                                          sh_bulk_result_t *result);

/* A queue as the store holds it now (as `sandhost queues` shows it). Start from
 * SH_QUEUE_STATS_INIT, which sets struct_size. */
typedef struct sh_queue_stats {
    uint32_t struct_size;
    int32_t paused;            /* nonzero: paused on every host */
    uint64_t counts[7];        /* jobs by state, indexed by SH_JOB_WAITING .. SH_JOB_CANCELLED */
    int64_t latency_ms;        /* how long the job that may run and has waited longest has waited; 0: none is due */
    int64_t earliest_due_ms;   /* the earliest run_at of its waiting and delayed jobs (ms since the
                                * Unix epoch; ahead of now when none is due yet); 0: it has none */
} sh_queue_stats_t;
#define SH_QUEUE_STATS_INIT {(uint32_t)sizeof(sh_queue_stats_t), 0, {0, 0, 0, 0, 0, 0, 0}, 0, 0}

/* Fills *stats (the caller's, from SH_QUEUE_STATS_INIT) for `queue`. SH_CLIENT_NOT_FOUND for a
 * queue neither configured nor holding jobs. */
sh_client_status_t sh_client_queue_stats(sh_client_t *client, const char *queue, sh_queue_stats_t *stats);

/* Frees a job from sh_client_get or sh_client_wait (NULL does nothing). */
void sh_job_free(sh_job_t *job);

/* The job with its attempts as JSON text (a NUL-terminated string the caller frees with
 * sh_client_free_text), in the one job shape every front door prints (docs/api.md: the HTTP
 * API, `sandhost job show --json`). SH_CLIENT_NOT_FOUND when there is no such job. */
sh_client_status_t sh_client_get_json(sh_client_t *client, int64_t job_id, char **json);
void sh_client_free_text(char *text);

/* "waiting", "completed", ... ; "unknown" for any other value. Static storage. */
const char *sh_job_state_name(sh_job_state_t state);

/* Why the calling thread's last call failed, in words ("" after a success). Valid until the
 * thread's next call into the library. */
const char *sh_client_last_error(void);

/* The library's version ("0.1.0"). Static storage. */
const char *sh_client_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SANDHOST_CLIENT_H */
