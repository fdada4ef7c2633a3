// Running a task inside the host process: the no-sandbox mode (sandbox.enabled: false) and the
// inline fallback. No isolation at all: a crash here is the host's crash, limits do not apply
// and output is not captured. For trusted code only.
#pragma once

#include "model/outcome.h"
#include "os/file_security.h"
#include "sandbox/attempt.h"

#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace sandhost::plugin {
class PluginLibrary;
}

namespace sandhost::sandbox {

class InlineRunner {
public:
    InlineRunner();
    // shutdown()
    ~InlineRunner();
    InlineRunner(const InlineRunner&) = delete;
    InlineRunner& operator=(const InlineRunner&) = delete;

    // Runs the task on a thread of the host (one kept from an earlier task when one is free:
    // starting a task creates no thread once as many exist as ran at once). At the deadline the task is asked to stop (its
    // cancel_requested() turns true); a task that does not return within the grace period is
    // abandoned, still running, and the attempt is timed_out. The outcome comes from the same
    // classify() as a worker's. Plugins loaded this way stay loaded (and initialised) until
    // the runner is shut down: `library`, which file the plugin's path names now, is only
    // compared with the one loaded, and a replaced one is logged once (a process cannot load
    // a second library by the same name). Thread-safe.
    model::Outcome run(const AttemptSpec& spec, const os::FileIdentity& library, AttemptObserver* observer, CancelToken* cancel);

    // Waits for the task threads still running, each up to `grace`, asking them to stop. A
    // task that never returns cannot be stopped inside the host: its thread is left running
    // (logged), and its library stays loaded, until the process exits. Idempotent.
    void shutdown(model::Duration grace = std::chrono::seconds(2));

private:
    struct Call;
    std::shared_ptr<plugin::PluginLibrary> load(const AttemptSpec& spec, const os::FileIdentity& library, model::Outcome& failure);
    // A thread that runs tasks one after another. Shared with the thread itself, which uses
    // nothing else of the runner: a thread left running at shutdown may outlive it.
    struct TaskThread {
        std::mutex mutex;              // guards the three below
        std::condition_variable wake;  // work given, or stop
        std::shared_ptr<Call> call;    // the task it runs, or ran last: free once that finished
        std::function<void()> work;    // given, not started yet
        bool stop = false;
        std::thread thread;            // the runner's, under m_mutex
    };
    static void serve(const std::shared_ptr<TaskThread>& self);

    std::mutex m_mutex;
    struct Loaded {
        std::shared_ptr<plugin::PluginLibrary> library;
        os::FileIdentity file;     // the file it was loaded from
        os::FileIdentity replaced;  // the last other file found at its path (logged once)
    };
    std::map<std::string, Loaded> m_libraries;
    std::list<std::shared_ptr<TaskThread>> m_threads;
};

} // namespace sandhost::sandbox
