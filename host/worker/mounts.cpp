#include "worker/mounts.h"

#include "os/unique_fd.h"
#include "worker/failure.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sched.h>
#include <string_view>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sandhost::worker {
namespace {

using protocol::WorkerExit;

struct Mount {
    std::string point;
    unsigned long flags = 0;  // the per-mount flags a bind remount must keep
};

// mountinfo writes a space, tab, newline and backslash in a path as \ooo.
std::string unescape(std::string_view text)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size()) {
            const auto digit = [](char c) { return c >= '0' && c <= '7'; };
            if (digit(text[i + 1]) && digit(text[i + 2]) && digit(text[i + 3])) {
                out += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0'));
                i += 3;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

unsigned long per_mount_flags(std::string_view options)
{
    unsigned long flags = 0;
    while (!options.empty()) {
        const auto comma = options.find(',');
        const std::string_view option = options.substr(0, comma);
        if (option == "nosuid") flags |= MS_NOSUID;
        else if (option == "nodev") flags |= MS_NODEV;
        else if (option == "noexec") flags |= MS_NOEXEC;
        else if (option == "noatime") flags |= MS_NOATIME;
        else if (option == "nodiratime") flags |= MS_NODIRATIME;
        else if (option == "relatime") flags |= MS_RELATIME;
        else if (option == "strictatime") flags |= MS_STRICTATIME;
        if (comma == std::string_view::npos) break;
        options.remove_prefix(comma + 1);
    }
    return flags;
}

// This namespace's mounts, parents before their children.
std::vector<Mount> read_mounts()
{
    const os::UniqueFd fd(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
    if (!fd) fail(WorkerExit::setup_failed, "open", "/proc/self/mountinfo", errno);
    std::string text;
    char buffer[8192];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(WorkerExit::setup_failed, "read", "/proc/self/mountinfo", errno);
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    std::vector<Mount> mounts;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = std::min(text.find('\n', start), text.size());
        // ID PARENT MAJOR:MINOR ROOT POINT OPTIONS ...
        std::string_view line(text.data() + start, end - start);
        std::string_view fields[6];
        std::size_t count = 0;
        while (count < 6 && !line.empty()) {
            const auto space = line.find(' ');
            fields[count++] = line.substr(0, space);
            line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
        }
        if (count == 6) mounts.push_back(Mount{unescape(fields[4]), per_mount_flags(fields[5])});
        start = end + 1;
    }
    return mounts;
}

bool is_under(const std::string& path, const std::string& folder)
{
    if (folder == "/") return true;
    return path == folder || (path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 && path[folder.size()] == '/');
}

void hide(const std::string& path)
{
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
        if (errno == ENOENT) return;
        fail(WorkerExit::setup_failed, "stat", ("filesystem.hide: " + path).c_str(), errno);
    }
    if (S_ISDIR(info.st_mode)) {
        if (::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000,size=4k") != 0) {
            fail(WorkerExit::setup_failed, "mount(tmpfs)", ("filesystem.hide: " + path).c_str(), errno);
        }
    } else if (::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        fail(WorkerExit::setup_failed, "mount(bind /dev/null)", ("filesystem.hide: " + path).c_str(), errno);
    }
}

void remount_read_only(const MountPlan& plan)
{
    for (const Mount& mount : read_mounts()) {
        if (is_under(mount.point, "/proc")) continue;  // its writable files are per process, and guarded
        bool kept = false;
        for (const auto& folder : plan.writable) kept = kept || is_under(mount.point, folder);
        if (kept) continue;
        if (::mount(nullptr, mount.point.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | mount.flags, nullptr) != 0) {
            if (errno == ENOENT) continue;  // covered by a later mount: nothing reaches it
            fail(WorkerExit::setup_failed, "mount(MS_REMOUNT|MS_RDONLY)", ("filesystem.read_only: " + mount.point).c_str(), errno);
        }
    }
}

} // namespace

void enter_own_mounts(const MountPlan& plan)
{
    if (::unshare(CLONE_NEWNS) != 0) fail(WorkerExit::setup_failed, "unshare", "CLONE_NEWNS (a mount namespace of the worker's own)", errno);
    // Before anything is mounted: a shared mount would carry what follows back to the host.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        fail(WorkerExit::setup_failed, "mount(MS_REC|MS_PRIVATE)", "/", errno);
    }
    if (plan.fresh_sysfs) {
        // The host's sysfs goes with everything mounted below it (cgroups, ...): covered, they
        // would still be listed, and could not be remounted read-only by their paths.
        if (::umount2("/sys", MNT_DETACH) != 0 && errno != EINVAL) fail(WorkerExit::setup_failed, "umount2", "/sys (network: none)", errno);
        if (::mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
            fail(WorkerExit::setup_failed, "mount(sysfs)", "/sys (network: none)", errno);
        }
    }
    if (plan.read_only) {
        for (const auto& folder : plan.writable) {
            if (::mount(folder.c_str(), folder.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
                fail(WorkerExit::setup_failed, "mount(MS_BIND)", folder.c_str(), errno);
            }
        }
    }
    for (const auto& path : plan.hide) hide(path);
    if (plan.read_only) remount_read_only(plan);
}

} // namespace sandhost::worker
