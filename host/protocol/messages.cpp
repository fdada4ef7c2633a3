#include "protocol/messages.h"

namespace sandhost::protocol {
namespace {

void put_optional(BodyWriter& w, const std::optional<std::uint64_t>& v)
{
    w.u8(v ? 1 : 0).u64(v.value_or(0));
}

bool get_optional(BodyReader& r, std::optional<std::uint64_t>& v)
{
    std::uint8_t present;
    std::uint64_t value;
    if (!r.u8(present) || !r.u64(value) || present > 1) return false;
    v = present ? std::optional<std::uint64_t>(value) : std::nullopt;
    return true;
}

} // namespace

std::string encode(const Hello& m) { return BodyWriter().i64(m.pid).u64(m.inherited_max_rss_kb).take(); }

std::optional<Hello> decode_hello(std::string_view body)
{
    BodyReader r(body);
    Hello m;
    if (!r.i64(m.pid) || !r.u64(m.inherited_max_rss_kb) || !r.at_end()) return std::nullopt;
    return m;
}

std::string encode(const Job& m)
{
    BodyWriter w;
    w.str(m.plugin_path).str(m.task).str(m.payload).u64(m.max_result);
    put_optional(w, m.limits.memory_bytes);
    put_optional(w, m.limits.cpu_ms);
    put_optional(w, m.limits.open_files);
    put_optional(w, m.limits.file_size_bytes);
    put_optional(w, m.limits.processes);
    w.u8(m.describe ? 1 : 0);
    w.i64(m.job_id).u32(m.attempt).str(m.queue).u64(m.timeout_ms).u64(m.lease_ms).str(m.tmpdir).str(m.workdir);
    return w.take();
}

std::optional<Job> decode_job(std::string_view body)
{
    BodyReader r(body);
    Job m;
    std::uint8_t describe;
    if (!r.str(m.plugin_path) || !r.str(m.task) || !r.str(m.payload) || !r.u64(m.max_result) ||
        !get_optional(r, m.limits.memory_bytes) || !get_optional(r, m.limits.cpu_ms) ||
        !get_optional(r, m.limits.open_files) || !get_optional(r, m.limits.file_size_bytes) ||
        !get_optional(r, m.limits.processes) || !r.u8(describe) || describe > 1 || !r.i64(m.job_id) || !r.u32(m.attempt) ||
        !r.str(m.queue) || !r.u64(m.timeout_ms) || !r.u64(m.lease_ms) || !r.str(m.tmpdir) || !r.str(m.workdir) || !r.at_end()) {
        return std::nullopt;
    }
    m.describe = describe == 1;
    return m;
}

std::string encode(const Ready& m) { return BodyWriter().u64(m.vm_size_kb).u64(m.rss_kb).take(); }

std::optional<Ready> decode_ready(std::string_view body)
{
    BodyReader r(body);
    Ready m;
    if (!r.u64(m.vm_size_kb) || !r.u64(m.rss_kb) || !r.at_end()) return std::nullopt;
    return m;
}

std::string encode(const LoadFailed& m) { return BodyWriter().str(m.message).u8(m.task_missing ? 1 : 0).take(); }

std::optional<LoadFailed> decode_load_failed(std::string_view body)
{
    BodyReader r(body);
    LoadFailed m;
    std::uint8_t task_missing;
    if (!r.str(m.message) || !r.u8(task_missing) || task_missing > 1 || !r.at_end()) return std::nullopt;
    m.task_missing = task_missing == 1;
    return m;
}

std::string encode(const Forked& m) { return BodyWriter().i64(m.pid).str(m.error).take(); }

std::optional<Forked> decode_forked(std::string_view body)
{
    BodyReader r(body);
    Forked m;
    if (!r.i64(m.pid) || !r.str(m.error) || !r.at_end()) return std::nullopt;
    return m;
}

std::string encode(const Lease& m) { return BodyWriter().i64(m.until_ms).take(); }

std::optional<Lease> decode_lease(std::string_view body)
{
    BodyReader r(body);
    Lease m;
    if (!r.i64(m.until_ms) || !r.at_end()) return std::nullopt;
    return m;
}

std::string encode(const ForkJob& m)
{
    return m.cgroup_fds == 0 && m.lease_ms == 0 ? std::string() : BodyWriter().u32(m.cgroup_fds).u64(m.lease_ms).take();
}

std::optional<ForkJob> decode_fork_job(std::string_view body)
{
    ForkJob m;
    if (body.empty()) return m;
    BodyReader r(body);
    if (!r.u32(m.cgroup_fds) || !r.u64(m.lease_ms) || !r.at_end()) return std::nullopt;
    return m;
}

std::string encode(const EnterGroup& m) { return BodyWriter().u32(m.files).take(); }

std::optional<EnterGroup> decode_enter_group(std::string_view body)
{
    BodyReader r(body);
    EnterGroup m;
    if (!r.u32(m.files) || !r.at_end()) return std::nullopt;
    return m;
}

std::string encode(const ChildLease& m) { return BodyWriter().i64(m.pid).i64(m.until_ms).take(); }

std::optional<ChildLease> decode_child_lease(std::string_view body)
{
    BodyReader r(body);
    ChildLease m;
    if (!r.i64(m.pid) || !r.i64(m.until_ms) || !r.at_end()) return std::nullopt;
    return m;
}

std::string encode(const ChildStatus& m)
{
    return BodyWriter()
        .u32(static_cast<std::uint32_t>(m.wait_status))
        .u64(m.max_rss_kb)
        .u64(m.user_cpu_us)
        .u64(m.system_cpu_us)
        .i64(m.lease_overdue_ms)
        .take();
}

std::optional<ChildStatus> decode_child_status(std::string_view bytes)
{
    BodyReader r(bytes);
    ChildStatus m;
    std::uint32_t status;
    if (!r.u32(status) || !r.u64(m.max_rss_kb) || !r.u64(m.user_cpu_us) || !r.u64(m.system_cpu_us) || !r.i64(m.lease_overdue_ms) ||
        !r.at_end()) {
        return std::nullopt;
    }
    m.wait_status = static_cast<std::int32_t>(status);
    return m;
}

std::string encode(const Log& m) { return BodyWriter().u8(m.level).str(m.message).take(); }

std::optional<Log> decode_log(std::string_view body)
{
    BodyReader r(body);
    Log m;
    if (!r.u8(m.level) || !r.str(m.message) || !r.at_end()) return std::nullopt;
    return m;
}

std::string encode(const Progress& m) { return BodyWriter().f64(m.percent).str(m.message).take(); }

std::optional<Progress> decode_progress(std::string_view body)
{
    BodyReader r(body);
    Progress m;
    if (!r.f64(m.percent) || !r.str(m.message) || !r.at_end()) return std::nullopt;
    return m;
}

std::string encode(const Done& m)
{
    return BodyWriter()
        .u8(static_cast<std::uint8_t>(m.status))
        .u8(m.permanent ? 1 : 0)
        .str(m.data)
        .u64(m.result_size)
        .u64(m.cpu_us)
        .u64(m.max_rss_kb)
        .take();
}

std::optional<Done> decode_done(std::string_view body)
{
    BodyReader r(body);
    Done m;
    std::uint8_t status;
    std::uint8_t permanent;
    if (!r.u8(status) || status > static_cast<std::uint8_t>(Done::Status::out_of_memory) || !r.u8(permanent) || permanent > 1 || !r.str(m.data) || !r.u64(m.result_size) ||
        !r.u64(m.cpu_us) || !r.u64(m.max_rss_kb) || !r.at_end()) {
        return std::nullopt;
    }
    m.status = static_cast<Done::Status>(status);
    m.permanent = permanent == 1;
    return m;
}

std::string encode(const Description& m)
{
    BodyWriter w;
    w.str(m.name).str(m.version).u32(static_cast<std::uint32_t>(m.tasks.size()));
    for (const auto& t : m.tasks) w.str(t.name).str(t.description);
    return w.take();
}

std::optional<Description> decode_description(std::string_view body)
{
    BodyReader r(body);
    Description m;
    std::uint32_t count;
    if (!r.str(m.name) || !r.str(m.version) || !r.u32(count)) return std::nullopt;
    for (std::uint32_t i = 0; i < count; ++i) {
        Description::Task t;
        if (!r.str(t.name) || !r.str(t.description)) return std::nullopt;
        m.tasks.push_back(std::move(t));
    }
    if (!r.at_end()) return std::nullopt;
    return m;
}

} // namespace sandhost::protocol
