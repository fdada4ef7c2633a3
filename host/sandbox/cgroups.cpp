#include "sandbox/cgroups.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

namespace fs = std::filesystem;
using os::CgroupVersion;

constexpr std::chrono::seconds k_kill_patience{5};
// The v1 controllers a group uses; memory and pids are required, the others optional.
constexpr const char* k_v1_controllers[] = {"memory", "pids", "cpuacct", "freezer"};

bool file_exists(const fs::path& path) { return ::access(path.c_str(), F_OK) == 0; }
bool writable(const fs::path& path) { return ::access(path.c_str(), W_OK) == 0; }

std::string json_string(const std::string& text)
{
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out + "\"";
}

// The controllers v2 lets a child of `folder` have (its cgroup.controllers).
std::vector<std::string> v2_controllers(const fs::path& folder)
{
    std::vector<std::string> out;
    auto text = os::read_text_file(folder / "cgroup.controllers");
    if (!text) return out;
    std::string word;
    for (char c : *text + " ") {
        if (c == ' ' || c == '\n') {
            if (!word.empty()) out.push_back(word);
            word.clear();
        } else {
            word += c;
        }
    }
    return out;
}

bool contains(const std::vector<std::string>& list, const std::string& item) { return std::find(list.begin(), list.end(), item) != list.end(); }

std::vector<std::string> subfolders(const fs::path& folder)
{
    std::vector<std::string> names;
    if (DIR* dir = ::opendir(folder.c_str())) {
        while (const dirent* entry = ::readdir(dir)) {
            if (entry->d_name[0] != '.' && entry->d_type == DT_DIR) names.emplace_back(entry->d_name);
        }
        ::closedir(dir);
    }
    return names;
}

// "sandhost.PID.N" -> PID.
std::optional<pid_t> owner_of(const std::string& name)
{
    const std::string prefix = "sandhost.";
    if (name.rfind(prefix, 0) != 0) return std::nullopt;
    const auto dot = name.find('.', prefix.size());
    if (dot == std::string::npos) return std::nullopt;
    try {
        return static_cast<pid_t>(std::stol(name.substr(prefix.size(), dot - prefix.size())));
    } catch (...) {
        return std::nullopt;
    }
}

bool alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

os::CgroupFolders below(const CgroupSupport& support, const std::string& name)
{
    std::vector<os::CgroupFolders::Folder> folders;
    for (const auto& base : support.bases) folders.push_back({base.controller, base.path / name});
    return os::CgroupFolders(support.version, std::move(folders));
}

os::CgroupFolders below(const os::CgroupFolders& parent, const std::string& name)
{
    std::vector<os::CgroupFolders::Folder> folders;
    for (const auto& f : parent.folders()) folders.push_back({f.controller, f.path / name});
    return os::CgroupFolders(parent.version(), std::move(folders));
}

// v2: a group's children get only the controllers its cgroup.subtree_control names, and a
// group with processes of its own cannot name any (the "no internal processes" rule, for
// every group but the root). The host's own group is made such a parent by moving the host
// into a leaf of its own, "sandhost-host". A group shared with other processes (a login
// session's) is left alone: the host needs a group of its own.
os::Status delegate_v2(const CgroupSupport& support, const fs::path& own, const fs::path& top)
{
    std::string enable = "+memory +pids";
    if (support.cpu) enable += " +cpu";
    auto subtree = os::read_text_file(own / "cgroup.subtree_control");
    if (!subtree) return subtree.error();
    const bool enabled = subtree->find("memory") != std::string::npos && subtree->find("pids") != std::string::npos &&
                         (!support.cpu || subtree->find("cpu") != std::string::npos);
    if (!enabled) {
        auto procs = os::read_text_file(own / "cgroup.procs");
        if (!procs) return procs.error();
        const auto pids = os::parse_pids(*procs);
        if (std::any_of(pids.begin(), pids.end(), [](pid_t pid) { return pid != ::getpid(); })) {
            return os::SysError::from_code(ENOTEMPTY, "cgroups",
                                           own.string() + " holds other processes than this host: give the host a group of its own "
                                                          "(systemd: Delegate=yes)");
        }
        if (!pids.empty()) {
            const os::CgroupFolders leaf(CgroupVersion::v2, {{"", own / "sandhost-host"}});
            if (auto made = leaf.make(); !made) return made;
            for (pid_t pid : pids) {
                // A process that ended meanwhile cannot be moved, and need not be.
                if (auto moved = leaf.add(pid); !moved && moved.error().code != std::errc::no_such_process) return moved;
            }
        }
        if (auto s = os::write_kernel_file(own / "cgroup.subtree_control", enable); !s) return s;
    }
    return os::write_kernel_file(top / "cgroup.subtree_control", enable);
}

} // namespace

std::string CgroupSupport::to_json() const
{
    auto b = [](bool v) { return v ? "true" : "false"; };
    std::string out = std::string("{\"usable\":") + b(usable);
    if (!usable) return out + ",\"why_not\":" + json_string(why_not) + "}";
    out += std::string(",\"version\":\"") + (version == CgroupVersion::v1 ? "v1" : "v2") + "\"";
    out += std::string(",\"memory\":") + b(memory) + ",\"pids\":" + b(pids) + ",\"cpu\":" + b(cpu) + ",\"kill\":" + b(kill);
    out += ",\"where\":" + json_string(bases.empty() ? std::string() : bases.front().path.string());
    return out + "}";
}

std::string CgroupSupport::describe() const
{
    if (!usable) return "no (" + why_not + ")";
    std::string features = "memory, pids";
    if (cpu) features += ", cpu";
    if (kill) features += ", kill";
    return std::string(version == CgroupVersion::v1 ? "v1" : "v2") + " under " + bases.front().path.string() + " (" + features + ")";
}

CgroupSupport detect_cgroups(const fs::path& proc)
{
    CgroupSupport s;
    auto memberships_text = os::read_text_file(proc / "self" / "cgroup");
    auto mounts_text = os::read_text_file(proc / "self" / "mountinfo");
    if (!memberships_text || !mounts_text) {
        s.why_not = "cannot read " + (proc / "self" / "cgroup").string() + " or mountinfo";
        return s;
    }
    const auto memberships = os::parse_proc_cgroup(*memberships_text);
    const auto mounts = os::parse_cgroup_mounts(*mounts_text);
    std::string v2_why;
    // v2 first, where this process's own group in the unified tree has the controllers.
    if (auto own = os::own_group_folder(memberships, mounts, "")) {
        const auto controllers = v2_controllers(*own);
        if (!contains(controllers, "memory") || !contains(controllers, "pids")) {
            v2_why = "cgroup v2 group " + own->string() + " has no memory and pids controllers to give";
        } else if (!writable(*own) || !writable(*own / "cgroup.subtree_control")) {
            v2_why = "cgroup v2 group " + own->string() + " is not delegated to this user";
        } else {
            s.usable = s.memory = s.pids = true;
            s.version = CgroupVersion::v2;
            s.cpu = contains(controllers, "cpu");
            s.kill = file_exists(*own / "cgroup.kill") || file_exists(*own / "cgroup.freeze");
            s.bases.push_back({"", *own});
            return s;
        }
    }
    std::vector<os::CgroupFolders::Folder> bases;
    for (const char* controller : k_v1_controllers) {
        auto own = os::own_group_folder(memberships, mounts, controller);
        if (own && writable(*own)) bases.push_back({controller, *own});
    }
    auto has = [&](const char* controller) {
        return std::any_of(bases.begin(), bases.end(), [&](const auto& b) { return b.controller == controller; });
    };
    if (!has("memory") || !has("pids")) {
        s.why_not = v2_why.empty() ? std::string("no writable cgroup v1 memory and pids groups and no delegated cgroup v2 group") : v2_why;
        return s;
    }
    s.usable = s.memory = s.pids = true;
    s.version = CgroupVersion::v1;
    s.cpu = has("cpuacct");
    s.kill = has("freezer");
    s.bases = std::move(bases);
    return s;
}

const CgroupSupport& cgroup_support()
{
    static const CgroupSupport support = detect_cgroups();
    return support;
}

std::optional<std::uint64_t> group_process_limit(const model::Limits& limits, bool lease_thread)
{
    if (!limits.processes) return std::nullopt;
    return *limits.processes + (lease_thread ? 1 : 0);
}

os::Result<CgroupLease> CgroupPool::lease_for(CgroupPool* pool, const model::SandboxSettings& settings, bool lease_thread)
{
    if (!pool || settings.cgroup == model::CgroupUse::off) return CgroupLease();
    return pool->acquire(settings.limits.memory_bytes, group_process_limit(settings.limits, lease_thread));
}

os::Status AttemptGroup::limit(std::optional<std::uint64_t> memory_bytes, std::optional<std::uint64_t> processes)
{
    // A group lent again with the limits it has costs no write.
    if (m_limits_set && m_memory_limit == memory_bytes && m_process_limit == processes) return {};
    m_limits_set = false;
    const bool v1 = m_folders.version() == CgroupVersion::v1;
    if (auto folder = m_folders.folder_of("memory")) {
        const fs::path file = *folder / (v1 ? "memory.limit_in_bytes" : "memory.max");
        const std::string value = memory_bytes ? std::to_string(*memory_bytes) : (v1 ? "-1" : "max");
        auto set = os::write_kernel_file(file, value);
        if (!set && v1 && set.error().code == std::errc::device_or_resource_busy) {
            // v1 refuses a limit below what is charged: page cache the last attempt left.
            (void)os::write_kernel_file(*folder / "memory.force_empty", "0");
            set = os::write_kernel_file(file, value);
        }
        if (!set) return set;
        if (!v1) {
            // Swap would let a group go past its limit instead of being stopped at it.
            if (file_exists(*folder / "memory.swap.max")) (void)os::write_kernel_file(*folder / "memory.swap.max", memory_bytes ? "0" : "max");
        } else if (file_exists(*folder / "memory.memsw.limit_in_bytes")) {
            // memsw must stay at or above limit_in_bytes: -1 (none) always is.
            (void)os::write_kernel_file(*folder / "memory.memsw.limit_in_bytes", memory_bytes ? std::to_string(*memory_bytes) : "-1");
        }
        m_memory_limited = memory_bytes.has_value();
    }
    if (auto folder = m_folders.folder_of("pids")) {
        if (auto set = os::write_kernel_file(*folder / "pids.max", processes ? std::to_string(*processes) : "max"); !set) return set;
        m_processes_limited = processes.has_value();
    }
    m_limits_set = true;
    m_memory_limit = memory_bytes;
    m_process_limit = processes;
    return {};
}

std::optional<std::string> AttemptGroup::read_kept(std::string_view controller, const char* file) const
{
    auto kept = std::find_if(m_kept.begin(), m_kept.end(), [&](const KeptFile& k) { return std::strcmp(k.file, file) == 0; });
    if (kept == m_kept.end()) {
        const auto folder = m_folders.folder_of(controller);
        if (!folder) return std::nullopt;  // no such controller: nothing to read, not a failure
        const fs::path path = *folder / file;
        os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
            m_read_failed = true;
            return std::nullopt;
        }
        kept = m_kept.insert(m_kept.end(), KeptFile{file, std::move(fd)});
    }
    auto text = os::read_from_start(kept->fd.get(), file);
    if (!text) {
        m_read_failed = true;
        return std::nullopt;
    }
    return std::move(text.value());
}

os::Result<std::vector<int>> AttemptGroup::files_to_enter_by(std::vector<os::UniqueFd>& kept, const char* file_name) const
{
    // Whoever holds these may put processes in the group.
    m_known_empty = false;
    m_counters_while_empty.reset();
    if (kept.empty()) {
        std::vector<os::UniqueFd> opened;
        for (const auto& folder : m_folders.folders()) {
            const auto file = folder.path / file_name;
            os::UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
            if (!fd) return os::SysError::from_errno("open", file.string());
            opened.push_back(std::move(fd));
        }
        kept = std::move(opened);
    }
    std::vector<int> fds;
    for (const auto& fd : kept) fds.push_back(fd.get());
    return fds;
}

os::Result<std::vector<int>> AttemptGroup::files_to_enter_by_oneself() const
{
    return files_to_enter_by(m_entries_for_oneself, m_folders.version() == CgroupVersion::v1 ? "tasks" : "cgroup.procs");
}

void AttemptGroup::close_files()
{
    m_kept.clear();
    m_entries_for_oneself.clear();
}

AttemptGroup::Counters AttemptGroup::counters() const
{
    // Nothing counts in a group without processes: read once after it emptied, the counters
    // stand until a process may enter again (a free group lent to the next attempt).
    if (m_known_empty && m_counters_while_empty) return *m_counters_while_empty;
    m_read_failed = false;
    Counters c;
    const bool v1 = m_folders.version() == CgroupVersion::v1;
    auto read = [this](std::string_view controller, const char* file) { return read_kept(controller, file).value_or(""); };
    c.oom_kills = os::counter_in(read("memory", v1 ? "memory.oom_control" : "memory.events"), "oom_kill");
    c.forks_refused = os::counter_in(read("pids", "pids.events"), "max");
    c.cpu_us = cpu_us();
    if (m_known_empty && !m_read_failed) m_counters_while_empty = c;
    return c;
}

std::uint64_t AttemptGroup::cpu_us() const
{
    if (m_folders.version() == CgroupVersion::v1) {
        const auto usage = read_kept("cpuacct", "cpuacct.usage").value_or("");
        try {
            if (!usage.empty()) return std::stoull(usage) / 1000;
        } catch (...) {
        }
        return 0;
    }
    return m_support->cpu ? os::counter_in(read_kept("", "cpu.stat").value_or(""), "usage_usec") : 0;
}

AttemptGroup::Counters AttemptGroup::counters_of_a_lone_process(const Counters& before) const
{
    Counters c = before;
    // A refused fork leaves no trace in the peak: the limit refused may be an ancestor's.
    c.forks_refused = os::counter_in(read_kept("pids", "pids.events").value_or(""), "max");
    c.cpu_us = cpu_us();
    return c;
}

bool AttemptGroup::only_ever_held(std::uint64_t tasks) const
{
    if (m_no_peak) return false;
    const bool failed_before = m_read_failed;
    auto peak = read_kept("pids", "pids.peak");
    if (!peak || peak->empty()) {
        m_no_peak = true;
        m_read_failed = failed_before;  // a file this kernel lacks is no failed read of the counters
        return false;
    }
    return std::strtoull(peak->c_str(), nullptr, 10) <= tasks;
}

os::Status AttemptGroup::kill_all() const
{
    // An empty group, the usual case, costs one read, or none when it was seen empty since a
    // process could last enter it; any other count (or none to read) is listed and killed, and
    // a list that cannot be read is an error.
    if (m_known_empty || tasks() == std::uint64_t{0}) return {};
    return m_folders.kill_all(k_kill_patience);
}

std::optional<std::uint64_t> AttemptGroup::tasks() const
{
    auto current = read_kept("pids", "pids.current");
    if (!current || current->empty()) return std::nullopt;
    const auto count = std::strtoull(current->c_str(), nullptr, 10);
    // Only a holder of its cgroup.procs puts a process in a group without one.
    if (count == 0) m_known_empty = true;
    return count;
}

bool AttemptGroup::empty() const
{
    // pids.current is read afresh from a kept descriptor; v1's cgroup.procs is not (an open
    // cgroup.procs lists what it listed first for a second), so it is opened again when asked.
    // pids.current also counts processes that exited and wait to be reaped: then the list says.
    if (tasks() == std::uint64_t{0}) return true;
    return processes().empty();
}

std::vector<pid_t> AttemptGroup::processes() const
{
    auto pids = m_folders.processes();
    return pids ? std::move(pids.value()) : std::vector<pid_t>{};
}

CgroupLease& CgroupLease::operator=(CgroupLease&& other) noexcept
{
    if (this != &other) {
        give_back();
        m_pool = other.m_pool;
        m_group = std::move(other.m_group);
        m_counted = other.m_counted;
    }
    return *this;
}

CgroupLease::~CgroupLease() { give_back(); }

void CgroupLease::give_back()
{
    if (m_group && m_pool) m_pool->give_back(std::move(m_group));
    m_group.reset();
}

std::size_t CgroupPool::sweep_leftovers(const CgroupSupport& support)
{
    std::vector<std::string> names;
    for (const auto& base : support.bases) {
        for (auto& name : subfolders(base.path)) {
            auto owner = owner_of(name);
            if (owner && !alive(*owner) && !contains(names, name)) names.push_back(name);
        }
    }
    std::size_t removed = 0;
    for (const auto& name : names) {
        const os::CgroupFolders top = below(support, name);
        std::vector<std::string> slots;
        for (const auto& f : top.folders()) {
            for (auto& slot : subfolders(f.path)) {
                if (!contains(slots, slot)) slots.push_back(slot);
            }
        }
        for (const auto& slot : slots) {
            const os::CgroupFolders group = below(top, slot);
            (void)group.kill_all(k_kill_patience);
            (void)group.remove();
        }
        // The folder is gone unless a process in it could not be killed.
        if (top.remove()) ++removed;
    }
    return removed;
}

os::Result<std::unique_ptr<CgroupPool>> CgroupPool::open(const CgroupSupport& support)
{
    if (!support.usable) return os::SysError::from_code(ENOTSUP, "cgroups", support.why_not);
    sweep_leftovers(support);
    static std::atomic<unsigned> counter{0};
    const std::string name = "sandhost." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    os::CgroupFolders top = below(support, name);
    if (auto made = top.make(); !made) return made.error();
    if (support.version == CgroupVersion::v2) {
        if (auto delegated = delegate_v2(support, support.bases.front().path, top.folders().front().path); !delegated) {
            (void)top.remove();
            return delegated.error();
        }
    }
    return std::unique_ptr<CgroupPool>(new CgroupPool(support, std::move(top)));
}

CgroupPool::~CgroupPool()
{
    std::lock_guard lock(m_mutex);
    for (auto& group : m_free) {
        (void)group->kill_all();
        (void)group->folders().remove();
    }
    m_free.clear();
    (void)m_top.remove();
}

os::Result<CgroupLease> CgroupPool::acquire(std::optional<std::uint64_t> memory_bytes, std::optional<std::uint64_t> processes)
{
    std::unique_ptr<AttemptGroup> group;
    {
        std::lock_guard lock(m_mutex);
        if (!m_free.empty()) {
            group = std::move(m_free.back());
            m_free.pop_back();
        }
    }
    if (!group) {
        std::size_t number;
        {
            std::lock_guard lock(m_mutex);
            number = m_made++;
        }
        os::CgroupFolders folders = below(m_top, "slot-" + std::to_string(number));
        if (auto made = folders.make(); !made) return made.error();
        group = std::make_unique<AttemptGroup>(std::move(folders), m_support);
    }
    if (auto limited = group->limit(memory_bytes, processes); !limited) {
        // A group that takes no limit is not lent again.
        (void)group->folders().remove();
        return limited.error();
    }
    return CgroupLease(this, std::move(group));
}

void CgroupPool::give_back(std::unique_ptr<AttemptGroup> group)
{
    // A group is lent again only once empty; one whose processes cannot be killed is dropped.
    if (!group->kill_all()) {
        (void)group->folders().remove();
        return;
    }
    std::lock_guard lock(m_mutex);
    m_free.push_back(std::move(group));
    // Lent last in, first out: the ones past the newest few wait longest, their files closed.
    if (m_free.size() > k_free_groups_with_files) m_free[m_free.size() - 1 - k_free_groups_with_files]->close_files();
}

std::size_t CgroupPool::free_open_files() const
{
    std::lock_guard lock(m_mutex);
    std::size_t open = 0;
    for (const auto& group : m_free) open += group->open_files();
    return open;
}

std::size_t CgroupPool::close_free_files()
{
    std::lock_guard lock(m_mutex);
    std::size_t closed = 0;
    for (auto& group : m_free) {
        closed += group->open_files();
        group->close_files();
    }
    return closed;
}

std::size_t CgroupPool::made() const
{
    std::lock_guard lock(m_mutex);
    return m_made;
}

std::size_t CgroupPool::free() const
{
    std::lock_guard lock(m_mutex);
    return m_free.size();
}

} // namespace sandhost::sandbox
