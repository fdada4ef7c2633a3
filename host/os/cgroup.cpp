#include "os/cgroup.h"

#include <charconv>
#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace sandhost::os {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator)
{
    std::vector<std::string_view> parts;
    for (;;) {
        const auto at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return parts;
        text.remove_prefix(at + 1);
    }
}

std::vector<std::string_view> lines_of(std::string_view text)
{
    std::vector<std::string_view> lines;
    for (auto line : split(text, '\n')) {
        if (!line.empty()) lines.push_back(line);
    }
    return lines;
}

template <typename T>
std::optional<T> number(std::string_view text)
{
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// mountinfo escapes blanks and backslashes in paths as \ooo.
std::string unescape(std::string_view text)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size()) {
            const auto code = text.substr(i + 1, 3);
            int value = 0;
            const auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), value, 8);
            if (ec == std::errc() && end == code.data() + 3) {
                out += static_cast<char>(value);
                i += 3;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

} // namespace

std::vector<CgroupMembership> parse_proc_cgroup(std::string_view text)
{
    std::vector<CgroupMembership> out;
    for (auto line : lines_of(text)) {
        const auto first = line.find(':');
        const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos) continue;
        const auto id = number<int>(line.substr(0, first));
        const auto path = line.substr(second + 1);
        if (!id || path.empty() || path.front() != '/') continue;
        CgroupMembership m;
        m.hierarchy = *id;
        const auto controllers = line.substr(first + 1, second - first - 1);
        if (!controllers.empty()) {
            for (auto c : split(controllers, ',')) m.controllers.emplace_back(c);
        }
        m.path = std::string(path);
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo)
{
    // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
    std::vector<CgroupMount> out;
    for (auto line : lines_of(mountinfo)) {
        const auto fields = split(line, ' ');
        std::size_t dash = 0;
        while (dash < fields.size() && fields[dash] != "-") ++dash;
        if (dash < 5 || dash + 3 >= fields.size()) continue;
        const auto type = fields[dash + 1];
        if (type != "cgroup" && type != "cgroup2") continue;
        CgroupMount mount;
        mount.version = type == "cgroup2" ? CgroupVersion::v2 : CgroupVersion::v1;
        mount.root = unescape(fields[3]);
        mount.mount_point = unescape(fields[4]);
        if (mount.version == CgroupVersion::v1) {
            for (auto option : split(fields[dash + 3], ',')) {
                if (option != "rw" && option != "ro" && option.find('=') == std::string_view::npos) mount.controllers.emplace_back(option);
            }
        }
        out.push_back(std::move(mount));
    }
    return out;
}

std::optional<std::filesystem::path> own_group_folder(const std::vector<CgroupMembership>& memberships,
                                                      const std::vector<CgroupMount>& mounts, std::string_view controller)
{
    auto has = [&](const std::vector<std::string>& list) {
        for (const auto& c : list) {
            if (c == controller) return true;
        }
        return false;
    };
    const CgroupMembership* member = nullptr;
    for (const auto& m : memberships) {
        if (controller.empty() ? (m.hierarchy == 0 && m.controllers.empty()) : has(m.controllers)) member = &m;
    }
    if (!member) return std::nullopt;
    for (const auto& mount : mounts) {
        const bool match = controller.empty() ? mount.version == CgroupVersion::v2 : (mount.version == CgroupVersion::v1 && has(mount.controllers));
        if (!match) continue;
        // The group must lie inside what is mounted there.
        std::string_view path = member->path;
        const std::string_view root = mount.root == "/" ? std::string_view() : std::string_view(mount.root);
        if (path.substr(0, root.size()) != root || (path.size() > root.size() && path[root.size()] != '/')) continue;
        path.remove_prefix(root.size());
        while (!path.empty() && path.front() == '/') path.remove_prefix(1);
        return path.empty() ? mount.mount_point : mount.mount_point / std::string(path);
    }
    return std::nullopt;
}

std::uint64_t counter_in(std::string_view text, std::string_view key)
{
    for (auto line : lines_of(text)) {
        if (line.substr(0, key.size()) != key || line.size() <= key.size() || line[key.size()] != ' ') continue;
        return number<std::uint64_t>(line.substr(key.size() + 1)).value_or(0);
    }
    return 0;
}

std::vector<pid_t> parse_pids(std::string_view text)
{
    std::vector<pid_t> pids;
    for (auto line : lines_of(text)) {
        if (auto pid = number<pid_t>(line)) pids.push_back(*pid);
    }
    return pids;
}

Result<std::string> read_text_file(const std::filesystem::path& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SysError::from_errno("open", path.string());
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            auto error = SysError::from_errno("read", path.string());
            ::close(fd);
            return error;
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

Result<std::string> read_from_start(int fd, std::string_view path)
{
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::pread(fd, buffer, sizeof buffer, static_cast<off_t>(text.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return SysError::from_errno("read", std::string(path));
        if (n == 0) return text;
        text.append(buffer, static_cast<std::size_t>(n));
        // A counter file is generated whole by one read: a short read that ends a line is all
        // of it, and a second read for the end of the file would cost a syscall per counter.
        if (static_cast<std::size_t>(n) < sizeof buffer && text.back() == '\n') return text;
    }
}

Status write_kernel_file(const std::filesystem::path& path, std::string_view text)
{
    // O_TRUNC as a shell's `>` does: the kernel ignores it, a plain file (a test's tree) needs it.
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return SysError::from_errno("open", path.string());
    ssize_t n;
    do {
        n = ::write(fd, text.data(), text.size());
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(text.size())) {
        auto error = n < 0 ? SysError::from_errno("write", path.string() + " <- " + std::string(text))
                           : SysError::from_code(EIO, "write", path.string() + " (short write)");
        ::close(fd);
        return error;
    }
    ::close(fd);
    return {};
}

std::optional<std::filesystem::path> CgroupFolders::folder_of(std::string_view controller) const
{
    for (const auto& f : m_folders) {
        if (m_version == CgroupVersion::v2 || f.controller == controller) return f.path;
    }
    return std::nullopt;
}

Status CgroupFolders::make() const
{
    for (const auto& f : m_folders) {
        if (::mkdir(f.path.c_str(), 0755) != 0 && errno != EEXIST) return SysError::from_errno("mkdir", f.path.string());
    }
    return {};
}

Status CgroupFolders::remove() const
{
    for (const auto& f : m_folders) {
        if (::rmdir(f.path.c_str()) != 0 && errno != ENOENT) return SysError::from_errno("rmdir", f.path.string());
    }
    return {};
}

Status CgroupFolders::write_each(std::string_view file, std::string_view text) const
{
    for (const auto& f : m_folders) {
        if (auto s = write_kernel_file(f.path / std::string(file), text); !s) return s;
    }
    return {};
}

Status CgroupFolders::add(pid_t pid) const { return write_each("cgroup.procs", std::to_string(pid)); }

Result<std::vector<pid_t>> CgroupFolders::processes() const
{
    if (m_folders.empty()) return std::vector<pid_t>{};
    auto text = read_text_file(m_folders.front().path / "cgroup.procs");
    if (!text) return text.error();
    return parse_pids(*text);
}

Status CgroupFolders::kill_all(std::chrono::milliseconds patience) const
{
    if (m_folders.empty()) return {};
    const auto until = std::chrono::steady_clock::now() + patience;
    const auto& first = m_folders.front().path;
    bool killed_by_kernel = false;
    if (m_version == CgroupVersion::v2 && ::access((first / "cgroup.kill").c_str(), F_OK) == 0) {
        if (auto s = write_kernel_file(first / "cgroup.kill", "1"); !s) return s;
        killed_by_kernel = true;
    }
    // Frozen, nothing in the group can fork while it is emptied: each listed process is all
    // there is. A frozen process takes its SIGKILL once thawed.
    std::optional<std::filesystem::path> freeze_file;
    const char* frozen_value = m_version == CgroupVersion::v1 ? "FROZEN" : "1";
    const char* thawed_value = m_version == CgroupVersion::v1 ? "THAWED" : "0";
    if (m_version == CgroupVersion::v1) {
        if (auto freezer = folder_of("freezer")) freeze_file = *freezer / "freezer.state";
    } else if (::access((first / "cgroup.freeze").c_str(), F_OK) == 0) {
        freeze_file = first / "cgroup.freeze";
    }
    auto pause = std::chrono::microseconds(200);
    for (;;) {
        auto left = processes();
        if (!left) return left.error();
        if (left->empty()) return {};
        if (std::chrono::steady_clock::now() >= until) {
            return SysError::from_code(EBUSY, "kill", std::to_string(left->size()) + " processes left in " + first.string());
        }
        if (!killed_by_kernel) {
            const bool frozen = freeze_file && write_kernel_file(*freeze_file, frozen_value).ok();
            for (pid_t pid : *left) ::kill(pid, SIGKILL);
            if (frozen) (void)write_kernel_file(*freeze_file, thawed_value);
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(20'000));
    }
}

} // namespace sandhost::os
