#include "scheduler/metrics.h"

#include <algorithm>

namespace sandhost::scheduler {
namespace {

template <std::size_t n>
void observe(Metrics::Histogram& histogram, const std::array<double, n>& bounds, model::Duration duration)
{
    if (histogram.counts.empty()) histogram.counts.assign(n + 1, 0);
    const double seconds = std::max<double>(0, static_cast<double>(duration.count()) / 1000.0);
    const auto bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
    ++histogram.counts[static_cast<std::size_t>(bucket)];
    histogram.sum += seconds;
    ++histogram.count;
}

} // namespace

void Metrics::attempt_ended(const std::string& queue, const std::string& task, model::OutcomeKind outcome, model::Duration duration)
{
    std::lock_guard lock(m_mutex);
    ++m_counts.attempts[{queue, task, model::to_string(outcome)}];
    observe(m_counts.attempt_duration[queue], k_duration_buckets, duration);
}

void Metrics::attempt_started(const std::string& queue, model::Duration waited)
{
    std::lock_guard lock(m_mutex);
    observe(m_counts.queue_wait[queue], k_wait_buckets, waited);
}

void Metrics::enqueued(const std::string& queue)
{
    std::lock_guard lock(m_mutex);
    ++m_counts.enqueued[queue];
}

void Metrics::store_error()
{
    std::lock_guard lock(m_mutex);
    ++m_counts.store_errors;
}

Metrics::Snapshot Metrics::snapshot() const
{
    std::lock_guard lock(m_mutex);
    return m_counts;
}

} // namespace sandhost::scheduler
