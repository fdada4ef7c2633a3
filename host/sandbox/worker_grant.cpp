#include "sandbox/worker_grant.h"

#include "sandbox/syscall_filter.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <grp.h>
#include <map>
#include <mutex>
#include <pwd.h>
#include <unistd.h>

extern char** environ;

namespace sandhost::sandbox {
namespace {

bool is_number(const std::string& text)
{
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
    return out;
}

struct User {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

os::Result<User> look_up_user(const std::string& name)
{
    passwd entry{};
    passwd* found = nullptr;
    std::vector<char> buffer(16384);
    const int rc = is_number(name) ? ::getpwuid_r(static_cast<uid_t>(std::stoul(name)), &entry, buffer.data(), buffer.size(), &found)
                                   : ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc != 0) return os::SysError::from_code(rc, is_number(name) ? "getpwuid_r" : "getpwnam_r", "user " + name);
    User user;
    if (found == nullptr) {
        // A number the user database does not know: its group is the same number.
        if (!is_number(name)) return os::SysError::from_code(ENOENT, "getpwnam_r", "no user " + name + " on this machine");
        user.uid = static_cast<uid_t>(std::stoul(name));
        user.gid = static_cast<gid_t>(user.uid);
        return user;
    }
    user.uid = entry.pw_uid;
    user.gid = entry.pw_gid;
    int count = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    while (::getgrouplist(entry.pw_name, entry.pw_gid, groups.data(), &count) < 0) groups.resize(static_cast<std::size_t>(count));
    groups.resize(static_cast<std::size_t>(count));
    user.groups = std::move(groups);
    return user;
}

// A group's name (resolve_group() answers a number itself).
os::Result<gid_t> look_up_group(const std::string& name)
{
    group entry{};
    group* found = nullptr;
    std::vector<char> buffer(16384);
    const int rc = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc != 0) return os::SysError::from_code(rc, "getgrnam_r", "group " + name);
    if (found == nullptr) return os::SysError::from_code(ENOENT, "getgrnam_r", "no group " + name + " on this machine");
    return entry.gr_gid;
}

// What the user and group databases said of a name, for k_database_answer_kept: a queue with
// a `user` asks for every attempt, and each answer read the whole of /etc/passwd and
// /etc/group (or asked whatever else the machine's name service uses). A name that is not
// found is asked again every time, so that adding it takes effect at once.
constexpr auto k_database_answer_kept = std::chrono::seconds(10);

struct DatabaseAnswers {
    using Clock = std::chrono::steady_clock;
    std::mutex mutex;
    std::map<std::string, std::pair<User, Clock::time_point>> users;
    std::map<std::string, std::pair<gid_t, Clock::time_point>> groups;
    std::uint64_t lookups = 0;
};

DatabaseAnswers& database_answers()
{
    static DatabaseAnswers answers;
    return answers;
}

template <typename Value, typename LookUp>
os::Result<Value> answered(std::map<std::string, std::pair<Value, DatabaseAnswers::Clock::time_point>>& kept, const std::string& name,
                           LookUp look_up)
{
    auto& answers = database_answers();
    const auto now = DatabaseAnswers::Clock::now();
    {
        std::lock_guard lock(answers.mutex);
        const auto it = kept.find(name);
        if (it != kept.end() && now - it->second.second < k_database_answer_kept) return it->second.first;
        ++answers.lookups;
    }
    auto found = look_up(name);  // not under the lock: a name service may take its time
    if (!found) return found.error();
    std::lock_guard lock(answers.mutex);
    kept[name] = {found.value(), now};
    return found;
}

os::Result<User> resolve_user(const std::string& name)
{
    return answered(database_answers().users, name, look_up_user);
}

os::Result<gid_t> resolve_group(const std::string& name)
{
    if (is_number(name)) return static_cast<gid_t>(std::stoul(name));
    return answered(database_answers().groups, name, look_up_group);
}

std::vector<std::string> environment_for(const model::Privileges& p, const JobIdentity* job)
{
    std::map<std::string, std::string> variables;
    for (char** entry = environ; entry && *entry; ++entry) {
        const std::string text(*entry);
        const auto equals = text.find('=');
        if (equals == std::string::npos) continue;
        std::string name = text.substr(0, equals);
        if (model::inherits_variable(p.environment, name)) variables[std::move(name)] = text.substr(equals + 1);
    }
    if (job) {
        variables["SANDHOST_JOB_ID"] = std::to_string(job->job_id);
        variables["SANDHOST_ATTEMPT"] = std::to_string(job->attempt);
        variables["SANDHOST_QUEUE"] = job->queue;
    }
    for (const auto& [name, value] : p.environment.set) variables[name] = value;
    std::vector<std::string> out;
    for (const auto& [name, value] : variables) out.push_back(name + "=" + value);
    return out;
}

} // namespace

std::uint64_t user_database_lookups()
{
    auto& answers = database_answers();
    std::lock_guard lock(answers.mutex);
    return answers.lookups;
}

os::Result<std::optional<FolderOwner>> folder_owner(const model::Privileges& p)
{
    if (!p.user) return std::optional<FolderOwner>();
    auto user = resolve_user(*p.user);
    if (!user) return user.error();
    FolderOwner owner{user->uid, user->gid};
    if (p.group) {
        auto gid = resolve_group(*p.group);
        if (!gid) return gid.error();
        owner.gid = gid.value();
    }
    return std::optional<FolderOwner>(owner);
}

os::Result<WorkerGrant> grant_for(const model::Privileges& p, const JobIdentity* job, const std::filesystem::path& attempts_root)
{
    WorkerGrant grant;
    std::optional<User> user;
    if (p.user) {
        auto resolved = resolve_user(*p.user);
        if (!resolved) return resolved.error();
        user = std::move(resolved.value());
    }
    std::optional<gid_t> gid;
    if (user) gid = user->gid;
    if (p.group) {
        auto resolved = resolve_group(*p.group);
        if (!resolved) return resolved.error();
        gid = resolved.value();
    }
    if (user) {
        std::vector<std::string> groups;
        for (gid_t g : user->groups) groups.push_back(std::to_string(g));
        grant.args.insert(grant.args.end(), {"--uid", std::to_string(user->uid), "--groups", joined(groups)});
    }
    if (gid) grant.args.insert(grant.args.end(), {"--gid", std::to_string(*gid)});
    if (p.capabilities) {
        std::uint64_t mask = 0;
        for (const auto& name : *p.capabilities) {
            if (auto number = model::capability_number(name)) mask |= std::uint64_t{1} << *number;
        }
        char hex[32];
        std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(mask));
        grant.args.insert(grant.args.end(), {"--capabilities", hex});
    }
    grant.args.insert(grant.args.end(), {"--no-new-privileges", p.no_new_privileges ? "1" : "0"});
    if (p.network == model::Network::none) grant.args.insert(grant.args.end(), {"--network", "none"});
    if (p.filesystem.read_only) {
        grant.args.insert(grant.args.end(), {"--read-only", "1"});
        if (!attempts_root.empty()) grant.args.insert(grant.args.end(), {"--writable", attempts_root.string()});
    }
    for (const auto& path : p.filesystem.hide) {
        const std::filesystem::path hidden(path);
        const bool holds_root = !attempts_root.empty() &&
                                std::mismatch(hidden.begin(), hidden.end(), attempts_root.begin(), attempts_root.end()).first == hidden.end();
        if (holds_root) {
            return os::SysError::from_code(EINVAL, "filesystem.hide", path + " holds the attempts' folders, " + attempts_root.string());
        }
        grant.args.insert(grant.args.end(), {"--hide", path});
    }
    if (p.syscalls.filter != model::SyscallFilter::off) {
        auto filter = compiled_filter(p.syscalls);
        if (!filter) return filter.error();
        grant.args.insert(grant.args.end(), {"--syscalls-filter", filter->program_hex, "--syscalls-denies-ptrace", filter->denies_ptrace ? "1" : "0"});
    }
    grant.environment = environment_for(p, job);
    return grant;
}

} // namespace sandhost::sandbox
