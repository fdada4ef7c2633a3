// client_cpp CONFIG QUEUE TASK PAYLOAD_JSON
//
// Enqueues one job on the store CONFIG names (checked as `sandhost enqueue` checks it), waits
// for it to end (at most SANDHOST_WAIT_SECONDS, default 300), and prints its result, a JSON
// value, on stdout. Exit status: 0 when the job completed, 1 when it ended otherwise or is
// still running, 2 for a usage error or a refused job.
//
// With SANDHOST_MAX_LATENCY_SECONDS set it first holds back while the queue is behind: while
// the job that may run there and has waited longest has waited longer than that.
#include <sandhost/client.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv)
{
    if (argc != 5) {
        std::cerr << "usage: " << argv[0] << " CONFIG QUEUE TASK PAYLOAD_JSON\n";
        return 2;
    }
    const char* wait_env = std::getenv("SANDHOST_WAIT_SECONDS");
    const std::chrono::seconds wait(wait_env ? std::atoi(wait_env) : 300);
    try {
        auto client = sandhost::client::Client::open_config(argv[1]);
        if (const char* max = std::getenv("SANDHOST_MAX_LATENCY_SECONDS")) {
            const std::chrono::seconds limit(std::atoi(max));
            for (auto queue = client.queue(argv[2]); queue.latency > limit; queue = client.queue(argv[2])) {
                std::cerr << "queue " << queue.name << " is behind (" << queue.count(sandhost::client::JobState::waiting)
                          << " waiting, the oldest for " << queue.latency.count() << " ms); holding back\n";
                std::this_thread::sleep_for(std::chrono::seconds(1));
            }
        }
        const auto enqueued = client.enqueue(argv[2], argv[3], argv[4]);
        for (const auto& note : enqueued.notes) std::cerr << "note: " << note << "\n";
        std::cerr << "job " << enqueued.id << " enqueued; waiting\n";
        const auto job = client.wait(enqueued.id, wait);
        if (job.state == sandhost::client::JobState::completed) {
            std::cout << job.result.value_or("null") << "\n";
            return 0;
        }
        std::cerr << "job " << job.id << " is " << sandhost::client::to_string(job.state);
        if (job.outcome) std::cerr << " (last attempt: " << *job.outcome << ")";
        if (job.error) std::cerr << ": " << *job.error;
        std::cerr << "\n";
        return 1;
    } catch (const sandhost::client::Error& e) {
        std::cerr << e.what() << "\n";
        return 2;
    }
}
