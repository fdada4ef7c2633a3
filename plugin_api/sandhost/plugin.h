/*
 * sandhost plugin ABI, version 1.0.
 *
 * A plugin is a shared library that exports exactly one symbol, sh_plugin_entry, returning a
 * const descriptor. The host loads the library inside a worker process only, checks the
 * descriptor's abi_version and struct_size, then calls one task function per job with a
 * services table it owns.
 *
 * Rules that hold for the whole ABI:
 * - Only C types cross the boundary: no C++ types, no exceptions, and nothing allocated on one
 *   side is freed on the other. Every integer in a signature or a structure has a fixed width;
 *   the named constants (SH_STATUS_*, SH_LOG_*, SH_RETRY_*) are values of those integers.
 * - Strings are NUL-terminated UTF-8. A string the plugin passes to a service is copied before
 *   the service returns; the plugin keeps ownership of its own buffers.
 * - Everything the host passes in (services table, context, payload, job information) is owned
 *   by the host and valid only until the call it was passed to returns.
 * - Versions: a host loads a plugin built for its own major version, whatever the minor (older
 *   or newer), and refuses any other major. Within a major, structures only grow at the end and
 *   each one says its size (struct_size, task_size), so each side reads only what the other
 *   has: a plugin checks a service with SH_HAS_SERVICE before calling one newer than the
 *   oldest host it supports, and the host treats a plugin's missing fields as absent.
 * - Optional capabilities are looked up by id, in both directions: the host's through the
 *   services' get_extension, the plugin's through the descriptor's get_extension.
 *
 * Valid C99 and C++17/20.
 */
#ifndef SANDHOST_PLUGIN_H
#define SANDHOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define SH_ABI_VERSION_MAJOR 1u
#define SH_ABI_VERSION_MINOR 0u

/* An ABI version as one uint32_t: the major in the low 16 bits, the minor in the high 16 bits,
 * so that 1 is 1.0. Usable in #if. */
#define SH_ABI_MAKE_VERSION(major, minor) (((minor) << 16) | (major))
#define SH_ABI_MAJOR(version) ((version) & 0xFFFFu)
#define SH_ABI_MINOR(version) ((version) >> 16)
#define SH_ABI_VERSION SH_ABI_MAKE_VERSION(SH_ABI_VERSION_MAJOR, SH_ABI_VERSION_MINOR)

/* Name of the one exported symbol, as the host looks it up. */
#define SH_ENTRY_SYMBOL "sh_plugin_entry"

#if defined(_WIN32)
#define SH_EXPORT __declspec(dllexport)
#else
#define SH_EXPORT __attribute__((visibility("default")))
#endif

/* Opaque per-call state owned by the host. Valid only during the call it was passed to. */
typedef struct sh_context sh_context_t;

/* The named constants below are values of fixed-width integer types. In C they are enumerators
 * (int, the same type); in C++ they are constants of the type itself, so that `return
 * SH_STATUS_OK;` and `return sh_status_t_value;` agree wherever a return type is deduced. */

/* Levels of the log service. */
typedef int32_t sh_log_level_t;
#ifdef __cplusplus
static constexpr sh_log_level_t SH_LOG_TRACE = 0;
static constexpr sh_log_level_t SH_LOG_DEBUG = 1;
static constexpr sh_log_level_t SH_LOG_INFO = 2;
static constexpr sh_log_level_t SH_LOG_WARN = 3;
static constexpr sh_log_level_t SH_LOG_ERROR = 4;
#else
enum sh_log_level { SH_LOG_TRACE = 0, SH_LOG_DEBUG = 1, SH_LOG_INFO = 2, SH_LOG_WARN = 3, SH_LOG_ERROR = 4 };
#endif

/* Whether running the job again can help. SH_RETRY_NEVER sends the job straight to dead. */
typedef int32_t sh_retry_t;
#ifdef __cplusplus
static constexpr sh_retry_t SH_RETRY_ALLOWED = 0;
static constexpr sh_retry_t SH_RETRY_NEVER = 1;
#else
enum sh_retry { SH_RETRY_ALLOWED = 0, SH_RETRY_NEVER = 1 };
#endif

/* What a task or init hook returns. */
typedef int32_t sh_status_t;
#ifdef __cplusplus
static constexpr sh_status_t SH_STATUS_OK = 0;
static constexpr sh_status_t SH_STATUS_ERROR = 1;
#else
enum sh_status { SH_STATUS_OK = 0, SH_STATUS_ERROR = 1 };
#endif

/* Return values of set_result. */
#define SH_RESULT_STORED 0
#define SH_RESULT_TOO_LARGE 1

/*
 * What a task knows about the attempt it runs (the job_info service). Owned by the host, valid
 * until the task call returns. Grows at the end: read a field only when struct_size covers it
 * (SH_HAS_FIELD).
 */
typedef struct sh_job_info {
    uint32_t struct_size; /* sizeof(sh_job_info_t) as the host was built */
    uint32_t attempt;     /* this attempt's number within its job, from 1; 0 outside a queue */
    int64_t job_id;       /* the job's id in its store; 0 outside a queue (sandhost exec, an
                           * embedding program's single attempt) */
    const char *queue;    /* the job's queue; "" outside a queue */
    const char *task;     /* the task's name within this plugin */
    int64_t deadline_ms;  /* when the attempt's timeout ends, in milliseconds since the Unix
                           * epoch (UTC); 0 when the attempt has no deadline */
} sh_job_info_t;

/* True when a structure that carries its own struct_size (sh_job_info_t, sh_services_t,
 * sh_plugin_t) is large enough to contain the given member. */
#define SH_HAS_FIELD(type, pointer, member)                                                    \
    ((pointer)->struct_size >= offsetof(type, member) + sizeof((pointer)->member))

/*
 * The services the host hands to every task call and to the init hook.
 *
 * Thread rules: every function may be called from any thread of the worker process, but only
 * while the task (or init) call that received the table is still running. Calls after it
 * returned are ignored. None of them blocks for long: they copy their arguments and return.
 * The table itself is static in the host: its address stays valid for the process's lifetime,
 * but what it gives access to is tied to ctx and so to the call.
 */
typedef struct sh_services {
    uint32_t abi_version; /* SH_ABI_VERSION of the host */
    uint32_t struct_size; /* sizeof(sh_services_t) as the host was built */

    /* Writes a line to the job's log at the given level (SH_LOG_*). message is copied. */
    void (*log)(sh_context_t *ctx, sh_log_level_t level, const char *message);

    /* Reports progress: percent in [0, 100] (clamped), message short (may be NULL). Copied. */
    void (*progress)(sh_context_t *ctx, double percent, const char *message);

    /* Returns non-zero once the host has asked the task to stop (user cancel or deadline).
     * A task that sees it should return soon; what it returns is then ignored. Cheap to poll. */
    int32_t (*cancel_requested)(sh_context_t *ctx);

    /* Tells the host the task is alive and making progress, without a percentage. */
    void (*heartbeat)(sh_context_t *ctx);

    /* Sets the job's result to a copy of size bytes at data (data may be NULL when size is 0).
     * May be called more than once: the last call wins. Returns SH_RESULT_STORED, or
     * SH_RESULT_TOO_LARGE when size exceeds the job's result cap (the job then ends as
     * result_too_large whatever the task returns). */
    int32_t (*set_result)(sh_context_t *ctx, const void *data, size_t size);

    /* Sets the error message reported when the task returns SH_STATUS_ERROR (or the init hook
     * fails). message is copied; the last call wins. retry (SH_RETRY_*) says whether another
     * attempt can help: SH_RETRY_NEVER makes the job dead at once. Ignored if the task returns
     * OK. */
    void (*set_error)(sh_context_t *ctx, const char *message, sh_retry_t retry);

    /* Looks up an optional capability of the host by reverse-DNS id with a version (e.g.
     * "org.sandhost.foo/1"). Returns a pointer owned by the host, valid for the worker's
     * lifetime, or NULL when unknown. ABI 1.0 defines none: this is how later ones are added. */
    const void *(*get_extension)(sh_context_t *ctx, const char *id);

    /* ABI 1.0. What the task runs for: its job, attempt, queue and deadline. Returns NULL
     * during init, which is not tied to one job (in fork and reuse modes it serves many).
     * Carried with every job, in every isolation mode. */
    const sh_job_info_t *(*job_info)(sh_context_t *ctx);

    /* ABI 1.0. Says the task failed because memory ran out: requested is the size of the
     * allocation that failed (0 when unknown). The task then returns SH_STATUS_ERROR, and the
     * attempt ends as resource_limit with limit memory (retried as the queue says) instead of
     * failed. A message set with set_error is kept in the record. Ignored if the task returns
     * OK. */
    void (*out_of_memory)(sh_context_t *ctx, size_t requested);
} sh_services_t;

/* True when the host's services table is large enough to contain the given member. */
#define SH_HAS_SERVICE(services, member)                                                      \
    ((services)->struct_size >= offsetof(sh_services_t, member) + sizeof((services)->member) && \
     (services)->member != NULL)

/*
 * A task. payload points to payload_size bytes of JSON text followed by a NUL byte (not counted
 * in payload_size). Returns SH_STATUS_OK with the result set by set_result (empty if never set),
 * or SH_STATUS_ERROR with the message set by set_error.
 *
 * Threads and lifetime: in a worker, tasks run on its main thread, one at a time, after init;
 * in spawn and fork modes the process runs one task and ends, in reuse mode it runs many in
 * turn. With the sandbox turned off (trusted code only) tasks run on threads of the host, several
 * at once: a plugin meant for that mode must be thread-safe. A thread the task starts may call
 * the services until the task returns, and is ended with the worker's process group when the
 * attempt ends.
 */
typedef sh_status_t (*sh_task_fn)(const sh_services_t *services, sh_context_t *ctx,
                                  const char *payload, size_t payload_size);

/* One entry of the task table. Grows only at the end; the descriptor's task_size says how
 * large the plugin's entries are, so a host never reads a field an entry does not have. */
typedef struct sh_task {
    const char *name;        /* unique within the plugin: [A-Za-z0-9_-]+ */
    const char *description; /* one line */
    sh_task_fn run;
} sh_task_t;

/* Optional. Called once per process that holds the plugin, after the library is loaded and
 * before its first task, on that process's main thread. On failure it calls set_error and
 * returns SH_STATUS_ERROR: the attempt ends as load_failed with that message. progress and
 * set_result are ignored during init, and job_info returns NULL.
 *
 * What "once per process" means in each mode: in spawn mode a worker runs one job, so init runs
 * before every job; in reuse mode once before the worker's many jobs; in fork mode once in the
 * fork server, which then forks a process per job: each job's process inherits a copy of what
 * init set up (memory, open descriptors, mappings) but not the threads init started (fork
 * copies only the forking thread), and what a task changes dies with its process. So init must
 * leave state that stays valid across fork() and must not count on running once per job. Never
 * called by a worker that only lists the plugin's tasks. */
typedef sh_status_t (*sh_init_fn)(const sh_services_t *services, sh_context_t *ctx);

/* Optional. Called once per process after its last task, when the process ends normally (not
 * after a crash or a kill, and in fork mode in each job's process). No services are available.
 * Do not rely on it to save anything that matters. */
typedef void (*sh_shutdown_fn)(void);

/* Optional. Looks up a capability of the plugin's own by reverse-DNS id with a version (e.g.
 * "org.example.schema/1"): returns a pointer to data (or a table of functions) in static
 * storage, valid while the library is loaded, or NULL when the plugin has no such capability.
 * The host may call it from any thread, concurrently, before or without init: it must not fail,
 * block or allocate. What the pointer points to is defined by whoever defines the id. */
typedef const void *(*sh_plugin_extension_fn)(const char *id);

/* The descriptor returned by sh_plugin_entry. Static storage: it must outlive the library. */
typedef struct sh_plugin {
    uint32_t abi_version; /* SH_ABI_VERSION the plugin was built against */
    uint32_t struct_size; /* sizeof(sh_plugin_t) as the plugin was built */
    const char *name;     /* plugin name: [A-Za-z0-9_-]+ */
    const char *version;  /* free-form, e.g. "1.2.0" */
    const sh_task_t *tasks;
    size_t task_count;
    sh_init_fn init;         /* may be NULL */
    sh_shutdown_fn shutdown; /* may be NULL */
    /* ABI 1.0. sizeof one entry of tasks as the plugin was built (0 or absent: the 1.0
     * sh_task_t), so that the task table can grow. */
    uint32_t task_size;
    sh_plugin_extension_fn get_extension; /* may be NULL */
} sh_plugin_t;

/* The smallest struct_size a host accepts: the fields up to and including task_count. */
#define SH_PLUGIN_MIN_SIZE (offsetof(sh_plugin_t, task_count) + sizeof(size_t))

/* The entry point's type. Called once by the host, on the thread that loaded the library,
 * before anything else; it must not fail, allocate or call anything of the host's. */
typedef const sh_plugin_t *(*sh_entry_fn)(void);

/* The one symbol a plugin exports. */
SH_EXPORT const sh_plugin_t *sh_plugin_entry(void);

/*
 * Defines sh_plugin_entry for a plugin with a static task table. Use once per plugin, at file
 * scope, in C or C++, with no semicolon after it:
 *   static const sh_task_t tasks[] = {{"echo", "returns its payload", run_echo}};
 *   SH_DEFINE_PLUGIN("mine", "1.0.0", tasks, NULL, NULL)
 * SH_DEFINE_PLUGIN_WITH_EXTENSIONS adds the plugin's extension lookup (sh_plugin_extension_fn).
 */
#ifdef __cplusplus
#define SH_DEFINE_PLUGIN_LINKAGE extern "C"
#else
#define SH_DEFINE_PLUGIN_LINKAGE
#endif
#define SH_DEFINE_PLUGIN_WITH_EXTENSIONS(plugin_name, plugin_version, task_table, init_fn,       \
                                         shutdown_fn, extension_fn)                              \
    SH_DEFINE_PLUGIN_LINKAGE SH_EXPORT const sh_plugin_t *sh_plugin_entry(void)               \
    {                                                                                          \
        static const sh_plugin_t descriptor = {                                               \
            SH_ABI_VERSION,                                                                    \
            (uint32_t)sizeof(sh_plugin_t),                                                     \
            (plugin_name),                                                                     \
            (plugin_version),                                                                  \
            (task_table),                                                                      \
            sizeof(task_table) / sizeof((task_table)[0]),                                      \
            (init_fn),                                                                         \
            (shutdown_fn),                                                                     \
            (uint32_t)sizeof((task_table)[0]),                                                 \
            (extension_fn)};                                                                   \
        return &descriptor;                                                                    \
    }
#define SH_DEFINE_PLUGIN(plugin_name, plugin_version, task_table, init_fn, shutdown_fn)        \
    SH_DEFINE_PLUGIN_WITH_EXTENSIONS(plugin_name, plugin_version, task_table, init_fn,         \
                                     shutdown_fn, NULL)

#ifdef __cplusplus
}
#endif

#endif /* SANDHOST_PLUGIN_H */
