#include "sandbox/syscall_filter.h"

#include "os/unique_fd.h"

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <optional>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

struct FilterContext {
    scmp_filter_ctx ctx;
    explicit FilterContext(std::uint32_t default_action) : ctx(::seccomp_init(default_action)) {}
    ~FilterContext()
    {
        if (ctx) ::seccomp_release(ctx);
    }
    FilterContext(const FilterContext&) = delete;
    FilterContext& operator=(const FilterContext&) = delete;
};

bool named(const std::vector<std::string>& names, const std::string& name)
{
    return std::find(names.begin(), names.end(), name) != names.end();
}

os::Result<std::string> exported(scmp_filter_ctx ctx)
{
    const os::UniqueFd memory(::memfd_create("sandhost-filter", MFD_CLOEXEC));
    if (!memory) return os::SysError::from_errno("memfd_create", "the workers' system-call filter");
    if (const int rc = ::seccomp_export_bpf(ctx, memory.get()); rc != 0) {
        return os::SysError::from_code(-rc, "seccomp_export_bpf", "the workers' system-call filter");
    }
    struct stat st {};
    if (::fstat(memory.get(), &st) != 0) return os::SysError::from_errno("fstat", "the workers' system-call filter");
    std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::pread(memory.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return os::SysError::from_code(n < 0 ? errno : EIO, "pread", "the workers' system-call filter");
        done += static_cast<std::size_t>(n);
    }
    return bytes;
}

os::Result<CompiledFilter> compile(const std::vector<std::string>& deny, const std::vector<std::string>& allow_only)
{
    const bool allow_listed = !allow_only.empty();
    const std::uint32_t denied = SCMP_ACT_ERRNO(EPERM);
    FilterContext filter(allow_listed ? denied : SCMP_ACT_ALLOW);
    if (filter.ctx == nullptr) return os::SysError::from_code(ENOMEM, "seccomp_init", "the workers' system-call filter");
    if (const int rc = ::seccomp_attr_set(filter.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
        return os::SysError::from_code(-rc, "seccomp_attr_set", "SCMP_FLTATR_CTL_OPTIMIZE");
    }
    auto add = [&](std::uint32_t action, const std::string& name) -> std::optional<os::SysError> {
        const int number = ::seccomp_syscall_resolve_name(name.c_str());
        if (number == __NR_SCMP_ERROR) return std::nullopt;  // not a call of this architecture: nothing to filter
        const int rc = ::seccomp_rule_add(filter.ctx, action, number, 0);
        if (rc != 0 && rc != -EEXIST) return os::SysError::from_code(-rc, "seccomp_rule_add", name);
        return std::nullopt;
    };
    for (const auto& name : allow_listed ? allow_only : deny) {
        if (allow_listed && named(deny, name)) continue;
        if (auto failed = add(allow_listed ? SCMP_ACT_ALLOW : denied, name)) return *failed;
    }
    auto bytes = exported(filter.ctx);
    if (!bytes) return bytes.error();
    static const char digits[] = "0123456789abcdef";
    CompiledFilter out;
    out.instructions = bytes->size() / 8;
    out.program_hex.reserve(bytes->size() * 2);
    for (const char byte : *bytes) {
        const auto c = static_cast<unsigned char>(byte);
        out.program_hex += digits[c >> 4];
        out.program_hex += digits[c & 0xf];
    }
    out.denies_ptrace = allow_listed ? !named(allow_only, "ptrace") || named(deny, "ptrace") : named(deny, "ptrace");
    return out;
}

} // namespace

os::Result<CompiledFilter> compiled_filter(const model::SyscallSettings& settings)
{
    struct Entry {
        model::SyscallSettings settings;
        CompiledFilter filter;
    };
    // A host has a handful of distinct grants: a list searched without copying the settings.
    static std::mutex mutex;
    static std::vector<Entry> cache;
    std::lock_guard lock(mutex);
    for (const auto& entry : cache) {
        if (entry.settings == settings) return entry.filter;
    }
    std::vector<std::string> deny;
    std::vector<std::string> allow_only;
    switch (settings.filter) {
    case model::SyscallFilter::off: return os::SysError::from_code(EINVAL, "compiled_filter", "syscalls: off has no filter");
    case model::SyscallFilter::default_list: deny.assign(model::k_default_denied_syscalls.begin(), model::k_default_denied_syscalls.end()); break;
    case model::SyscallFilter::custom:
        deny = settings.deny;
        if (!settings.allow_only.empty()) {
            // The worker's own calls stay allowed: without them it could not run the task.
            allow_only = settings.allow_only;
            allow_only.insert(allow_only.end(), model::k_worker_syscalls.begin(), model::k_worker_syscalls.end());
        }
        break;
    }
    auto compiled = compile(deny, allow_only);
    if (compiled) cache.push_back(Entry{settings, *compiled});
    return compiled;
}

} // namespace sandhost::sandbox
