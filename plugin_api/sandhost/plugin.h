/*
 * sandhost plugin ABI, version 1.
 *
 * A plugin is a shared library that exports exactly one symbol, sh_plugin_entry, returning a
 * const descriptor. The host loads the library inside a worker process only, checks the
 * descriptor's abi_version and struct_size, then calls one task function per job with a
 * services table it owns.
 *
 * Rules that hold for the whole ABI:
 * - Only C types cross the boundary: no C++ types, no exceptions, and nothing allocated on one
 *   side is freed on the other.
 * - Strings are NUL-terminated UTF-8. A string the plugin passes to a service is copied before
 *   the service returns; the plugin keeps ownership of its own buffers.
 * - Everything the host passes in (services table, context, payload) is owned by the host and
 *   valid only until the call it was passed to returns.
 * - Growing the ABI: new fields are only ever appended. Each struct carries its own size, so a
 *   plugin built against an older header keeps loading, and a plugin checks a service's
 *   presence with SH_HAS_SERVICE before calling one newer than the oldest host it supports.
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

/* The ABI version this header describes. A host refuses a plugin whose abi_version differs. */
#define SH_ABI_VERSION 1u

/* Name of the one exported symbol, as the host looks it up. */
#define SH_ENTRY_SYMBOL "sh_plugin_entry"

#if defined(_WIN32)
#define SH_EXPORT __declspec(dllexport)
#else
#define SH_EXPORT __attribute__((visibility("default")))
#endif

/* Opaque per-call state owned by the host. Valid only during the call it was passed to. */
typedef struct sh_context sh_context_t;

typedef enum sh_log_level {
    SH_LOG_TRACE = 0,
    SH_LOG_DEBUG = 1,
    SH_LOG_INFO = 2,
    SH_LOG_WARN = 3,
    SH_LOG_ERROR = 4
} sh_log_level_t;

/* Whether running the job again can help. SH_RETRY_NEVER sends the job straight to dead. */
typedef enum sh_retry { SH_RETRY_ALLOWED = 0, SH_RETRY_NEVER = 1 } sh_retry_t;

/* What a task or init hook returns. */
typedef enum sh_status { SH_STATUS_OK = 0, SH_STATUS_ERROR = 1 } sh_status_t;

/* Return values of set_result. */
#define SH_RESULT_STORED 0
#define SH_RESULT_TOO_LARGE 1

/*
 * The services the host hands to every task call and to the init hook.
 *
 * Thread rules: every function may be called from any thread of the worker process, but only
 * while the task (or init) call that received the table is still running. Calls after it
 * returned are ignored. None of them blocks for long: they copy their arguments and return.
 */
typedef struct sh_services {
    uint32_t abi_version; /* SH_ABI_VERSION of the host */
    uint32_t struct_size; /* sizeof(sh_services_t) as the host was built */

    /* Writes a line to the job's log at the given level. message is copied. */
    void (*log)(sh_context_t *ctx, sh_log_level_t level, const char *message);

    /* Reports progress: percent in [0, 100] (clamped), message short (may be NULL). Copied. */
    void (*progress)(sh_context_t *ctx, double percent, const char *message);

    /* Returns non-zero once the host has asked the task to stop (user cancel or deadline).
     * A task that sees it should return soon; what it returns is then ignored. Cheap to poll. */
    int (*cancel_requested)(sh_context_t *ctx);

    /* Tells the host the task is alive and making progress, without a percentage. */
    void (*heartbeat)(sh_context_t *ctx);

    /* Sets the job's result to a copy of size bytes at data (data may be NULL when size is 0).
     * May be called more than once: the last call wins. Returns SH_RESULT_STORED, or
     * SH_RESULT_TOO_LARGE when size exceeds the job's result cap (the job then ends as
     * result_too_large whatever the task returns). */
    int (*set_result)(sh_context_t *ctx, const void *data, size_t size);

    /* Sets the error message reported when the task returns SH_STATUS_ERROR (or the init hook
     * fails). message is copied; the last call wins. retry says whether another attempt can
     * help: SH_RETRY_NEVER makes the job dead at once. Ignored if the task returns OK. */
    void (*set_error)(sh_context_t *ctx, const char *message, sh_retry_t retry);

    /* Looks up an optional capability by reverse-DNS id (e.g. "org.sandhost.foo/1"). Returns a
     * pointer owned by the host, valid for the worker's lifetime, or NULL when unknown. No
     * capability is defined in ABI version 1: this is how later ones are added. */
    const void *(*get_extension)(sh_context_t *ctx, const char *id);
} sh_services_t;

/* True when the host's services table is large enough to contain the given member. */
#define SH_HAS_SERVICE(services, member)                                                      \
    ((services)->struct_size >= offsetof(sh_services_t, member) + sizeof((services)->member) && \
     (services)->member != NULL)

/*
 * A task. payload points to payload_size bytes of JSON text followed by a NUL byte (not counted
 * in payload_size). Called on the worker's main thread. Returns SH_STATUS_OK with the result set
 * by set_result (empty if never set), or SH_STATUS_ERROR with the message set by set_error.
 */
typedef sh_status_t (*sh_task_fn)(const sh_services_t *services, sh_context_t *ctx,
                                  const char *payload, size_t payload_size);

typedef struct sh_task {
    const char *name;        /* unique within the plugin: [A-Za-z0-9_-]+ */
    const char *description; /* one line */
    sh_task_fn run;
} sh_task_t;

/* Optional. Called once per worker process after the library is loaded and before any task.
 * On failure it calls set_error and returns SH_STATUS_ERROR: the attempt ends as load_failed
 * with that message. progress and set_result are ignored during init. */
typedef sh_status_t (*sh_init_fn)(const sh_services_t *services, sh_context_t *ctx);

/* Optional. Called once per worker process after its last task, when the process ends
 * normally (not after a crash or a kill). No services are available. */
typedef void (*sh_shutdown_fn)(void);

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
} sh_plugin_t;

/* The smallest struct_size a host accepts: the fields up to and including task_count. */
#define SH_PLUGIN_MIN_SIZE (offsetof(sh_plugin_t, task_count) + sizeof(size_t))

typedef const sh_plugin_t *(*sh_entry_fn)(void);

/* The one symbol a plugin exports. Called once, after loading; must not fail. */
SH_EXPORT const sh_plugin_t *sh_plugin_entry(void);

/*
 * Defines sh_plugin_entry for a plugin with a static task table. Use once per plugin, at file
 * scope, in C or C++:
 *   static const sh_task_t tasks[] = {{"echo", "returns its payload", run_echo}};
 *   SH_DEFINE_PLUGIN("mine", "1.0.0", tasks, NULL, NULL)
 */
#ifdef __cplusplus
#define SH_DEFINE_PLUGIN_LINKAGE extern "C"
#else
#define SH_DEFINE_PLUGIN_LINKAGE
#endif
#define SH_DEFINE_PLUGIN(plugin_name, plugin_version, task_table, init_fn, shutdown_fn)        \
    SH_DEFINE_PLUGIN_LINKAGE SH_EXPORT const sh_plugin_t *sh_plugin_entry(void)               \
    {                                                                                          \
        static const sh_plugin_t descriptor = {                                               \
            SH_ABI_VERSION,       (uint32_t)sizeof(sh_plugin_t),                              \
            (plugin_name),        (plugin_version),                                            \
            (task_table),         sizeof(task_table) / sizeof((task_table)[0]),                \
            (init_fn),            (shutdown_fn)};                                              \
        return &descriptor;                                                                    \
    }

#ifdef __cplusplus
}
#endif

#endif /* SANDHOST_PLUGIN_H */
