#include "sandbox/attempt_folders.h"

#include "os/proc.h"
#include "os/unique_fd.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <string_view>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sandhost::sandbox {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view k_prefix = "sandhost-attempts.";

std::atomic<unsigned> g_sandboxes{0};

fs::path system_temp()
{
    std::error_code ec;
    fs::path temp = fs::temp_directory_path(ec);
    if (ec) temp = "/tmp";
    fs::path canonical = fs::weakly_canonical(temp, ec);
    return ec ? temp : canonical;
}

// The pid and start time in a root's name "sandhost-attempts.PID.START.N", or nullopt.
std::optional<std::pair<pid_t, std::uint64_t>> maker_of(std::string_view name)
{
    if (name.substr(0, k_prefix.size()) != k_prefix) return std::nullopt;
    name.remove_prefix(k_prefix.size());
    std::uint64_t numbers[3];
    for (int i = 0; i < 3; ++i) {
        const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), numbers[i]);
        if (ec != std::errc() || (i < 2 && (end == name.data() + name.size() || *end != '.'))) return std::nullopt;
        name.remove_prefix(static_cast<std::size_t>(end - name.data()) + (i < 2 ? 1 : 0));
    }
    if (!name.empty()) return std::nullopt;
    return std::make_pair(static_cast<pid_t>(numbers[0]), numbers[1]);
}

// Removes the roots under `temp` that processes now gone made, when this user owns them.
void sweep(const fs::path& temp)
{
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(temp, ec)) {
        const auto maker = maker_of(entry.path().filename().native());
        if (!maker) continue;
        struct stat info {};
        if (::lstat(entry.path().c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != ::geteuid()) continue;
        if (os::start_time(maker->first) == maker->second) continue;  // its maker still runs
        if (auto removed = remove_tree(entry.path()); !removed) {
            spdlog::warn("cannot remove {}, left by a sandhost process that is gone: {}", entry.path().string(), removed.error().message());
        } else {
            spdlog::info("removed {}, left by a sandhost process that is gone", entry.path().string());
        }
    }
}

// The names in the open folder `dir` (without "." and ".."), read with getdents64 straight
// from the descriptor (opendir would stat and fcntl it again); nullopt with errno set when it
// cannot be read.
std::optional<std::vector<std::string>> entries_of(int dir)
{
    std::vector<std::string> names;
    alignas(8) char buffer[4096];
    for (;;) {
        const long n = ::syscall(SYS_getdents64, dir, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;
        if (n == 0) return names;
        for (long at = 0; at < n;) {
            // glibc's dirent64 is laid out as the kernel's linux_dirent64.
            const auto* entry = reinterpret_cast<const dirent64*>(buffer + at);
            const std::string_view name(entry->d_name);
            if (name != "." && name != "..") names.emplace_back(name);
            at += entry->d_reclen;
        }
    }
}

// Lets the owner enter, list and change every folder under `path` (a task may have made one
// it may not).
void open_up(const fs::path& path)
{
    std::error_code ec;
    if (!fs::is_directory(fs::symlink_status(path, ec))) return;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    for (const auto& entry : fs::directory_iterator(path, ec)) open_up(entry.path());
}

} // namespace

os::Status remove_tree(const fs::path& path)
{
    std::error_code ec;
    fs::remove_all(path, ec);
    if (!ec) return {};
    open_up(path);
    fs::remove_all(path, ec);
    if (ec) return os::SysError::from_code(ec.value(), "remove_all", path.string());
    return {};
}

AttemptFolders::AttemptFolders(const fs::path& temp)
{
    const fs::path parent = temp.empty() ? system_temp() : temp;
    sweep(parent);
    const pid_t self = ::getpid();
    m_root = parent / (std::string(k_prefix) + std::to_string(self) + "." + std::to_string(os::start_time(self).value_or(0)) + "." +
                       std::to_string(g_sandboxes.fetch_add(1)));
}

AttemptFolders::~AttemptFolders()
{
    std::lock_guard lock(m_mutex);
    if (!m_root_made) return;
    if (auto removed = remove_tree(m_root); !removed) spdlog::warn("cannot remove the attempts' folders: {}", removed.error().message());
}

os::Result<fs::path> AttemptFolders::create(const std::optional<FolderOwner>& owner)
{
    {
        std::lock_guard lock(m_mutex);
        // Made again if something (a cleaner of old temporary files) took it away.
        if (!m_root_made || ::access(m_root.c_str(), F_OK) != 0) {
            if (::mkdir(m_root.c_str(), 0711) != 0 && errno != EEXIST) return os::SysError::from_errno("mkdir", m_root.string());
            // Whatever the umask said.
            if (::chmod(m_root.c_str(), 0711) != 0) return os::SysError::from_errno("chmod", m_root.string());
            m_root_made = true;
        }
        const FolderOwner wanted = owner.value_or(m_host_owner);
        const auto kept = std::find_if(m_kept.rbegin(), m_kept.rend(), [&](const Queued& q) { return q.owner == wanted; });
        if (kept != m_kept.rend()) {
            fs::path folder = std::move(kept->folder);
            m_kept.erase(std::next(kept).base());
            return folder;
        }
    }
    std::string name = (m_root / "attempt.XXXXXX").string();
    if (::mkdtemp(name.data()) == nullptr) return os::SysError::from_errno("mkdtemp", name);
    if (owner && ::chown(name.c_str(), owner->uid, owner->gid) != 0) {
        auto error = os::SysError::from_errno("chown", name + " to " + std::to_string(owner->uid) + ":" + std::to_string(owner->gid));
        ::rmdir(name.c_str());
        return error;
    }
    return fs::path(name);
}

os::Status AttemptFolders::empty(const fs::path& folder)
{
    // What the task may have changed: the folder's own mode, then what it holds. A chmod that
    // changes nothing still dirties the inode (a journal write on a disk-backed /tmp), so the
    // mode is read first; a folder left as it was costs an open, a stat and a directory read.
    const os::UniqueFd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return os::SysError::from_errno("open", folder.string());
    struct stat info {};
    if (::fstat(dir.get(), &info) != 0) return os::SysError::from_errno("fstat", folder.string());
    if ((info.st_mode & 07777) != 0700 && ::fchmod(dir.get(), 0700) != 0) return os::SysError::from_errno("chmod", folder.string());
    auto names = entries_of(dir.get());
    if (!names) return os::SysError::from_errno("getdents64", folder.string());
    for (const auto& name : *names) {
        if (auto removed = remove_tree(folder / name); !removed) return removed;
    }
    return {};
}

void AttemptFolders::remove(const fs::path& folder)
{
    auto removed = remove_tree(folder);
    if (removed) return;
    spdlog::warn("cannot remove an attempt's folder yet (tried again every second): {}", removed.error().message());
    std::lock_guard lock(m_mutex);
    m_left_over.insert(Queued{folder, std::nullopt});
}

bool AttemptFolders::keep_if_unchanged(const fs::path& folder, const std::optional<FolderOwner>& owner)
{
    const Queued taken{folder, owner.value_or(m_host_owner)};
    {
        std::lock_guard lock(m_mutex);
        if (m_kept.size() >= k_kept) return false;
    }
    if (!reusable(taken.folder, taken.owner)) return false;
    std::lock_guard lock(m_mutex);
    if (m_kept.size() >= k_kept) return false;
    m_kept.push_back(taken);
    return true;
}

bool AttemptFolders::remove_later(const fs::path& folder, const std::optional<FolderOwner>& owner)
{
    std::lock_guard lock(m_mutex);
    const bool first = m_left_over.empty();
    m_left_over.insert(Queued{folder, owner.value_or(m_host_owner)});
    return first;
}

bool AttemptFolders::reusable(const fs::path& folder, const std::optional<FolderOwner>& owner)
{
    if (!owner) return false;
    const os::UniqueFd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat info {};
    if (!dir || ::fstat(dir.get(), &info) != 0 || (info.st_mode & 07777) != 0700 || info.st_uid != owner->uid ||
        info.st_gid != owner->gid) {
        return false;
    }
    const auto names = entries_of(dir.get());
    return names && names->empty();
}

void AttemptFolders::remove_pending()
{
    std::set<Queued> left;
    {
        std::lock_guard lock(m_mutex);
        left.swap(m_left_over);
        m_taking_back += left.size();
    }
    for (const auto& queued : left) {
        if (reusable(queued.folder, queued.owner)) {
            std::lock_guard lock(m_mutex);
            if (m_kept.size() < k_kept) {
                // create() hands out the most recently kept first: its inode is likeliest cached.
                m_kept.push_back(queued);
                --m_taking_back;
                continue;
            }
        }
        const bool removed = remove_tree(queued.folder).ok();  // not under the lock: it may wait for the disk
        std::lock_guard lock(m_mutex);
        --m_taking_back;
        if (!removed) m_left_over.insert(Queued{queued.folder, std::nullopt});
    }
}

std::size_t AttemptFolders::left_over() const
{
    std::lock_guard lock(m_mutex);
    return m_left_over.size() + m_taking_back;
}

std::size_t AttemptFolders::kept() const
{
    std::lock_guard lock(m_mutex);
    return m_kept.size();
}

} // namespace sandhost::sandbox
