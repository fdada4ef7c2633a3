// Tasks about the descriptors a worker hands its task: garble writes junk on every one (the
// host must see a broken protocol, not trust it), fds lists them (the host's tests check that
// nothing leaks into the worker).
#include "support.h"
#include "tasks.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace misbehave {
namespace {

constexpr int k_write_wait_ms = 100;

// The descriptors open in this process, in increasing order, without the one used to list them.
// Throws with errno text when /proc/self/fd cannot be read.
struct DirCloser {
    void operator()(DIR* dir) const { ::closedir(dir); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

std::vector<int> open_descriptors()
{
    const UniqueDir dir(::opendir("/proc/self/fd"));
    if (!dir) {
        throw std::runtime_error(errno_message("opendir /proc/self/fd", errno));
    }
    const int listing_fd = ::dirfd(dir.get());
    std::vector<int> fds;
    for (;;) {
        errno = 0;
        const dirent* entry = ::readdir(dir.get());
        if (entry == nullptr) {
            if (errno != 0) {
                throw std::runtime_error(errno_message("readdir /proc/self/fd", errno));
            }
            break;
        }
        char* end = nullptr;
        const long fd = std::strtol(entry->d_name, &end, 10);
        if (end != entry->d_name && *end == '\0' && fd != listing_fd) {
            fds.push_back(static_cast<int>(fd));
        }
    }
    std::sort(fds.begin(), fds.end());
    return fds;
}

} // namespace

sh_status_t run_garble(const sh_services_t* services, sh_context_t* ctx, const char*, size_t) noexcept
{
    return guarded(services, ctx, [&] {
        // Bytes no sane frame starts with: all bits set reads as a huge length prefix, and the
        // text makes the junk recognisable in a captured stream.
        static constexpr char k_junk[] = "\xff\xff\xff\xff\xfe\x00garbage from misbehave.garble\n";
        std::string garbled;
        for (const int fd : open_descriptors()) {
            if (fd <= 2) {
                continue;
            }
            // A pipe nobody reads could block the write for ever and turn a garbled stream into a
            // timeout, so only descriptors ready for writing get the junk. Polling leaves the
            // descriptor's flags alone, which other processes may share. Descriptors opened
            // read-only refuse the write; that is fine.
            pollfd ready{fd, POLLOUT, 0};
            if (::poll(&ready, 1, k_write_wait_ms) != 1 || (ready.revents & POLLOUT) == 0) {
                continue;
            }
            if (::write(fd, k_junk, sizeof k_junk - 1) > 0) {
                garbled += (garbled.empty() ? "" : ",") + std::to_string(fd);
            }
        }
        return succeed_with(services, ctx, "{\"garbled\":[" + garbled + "]}");
    });
}

sh_status_t run_lie(const sh_services_t* services, sh_context_t* ctx, const char*, size_t) noexcept
{
    return guarded(services, ctx, [&] {
        // A well-formed header of a 'done' message (magic "SH", protocol version 4, type 8) whose
        // length says 4 GiB - 1: on the channel, a lie about a result no worker may send.
        // The channel is a socket, or (a fork server's child) a pipe to the host and one from it:
        // the header goes into every socket and every pipe open for writing past stderr.
        static constexpr char k_header[] = "\x48\x53\x04\x08\xff\xff\xff\xff";
        for (const int fd : open_descriptors()) {
            struct stat st {};
            if (fd <= 2 || ::fstat(fd, &st) != 0) continue;
            const int access = ::fcntl(fd, F_GETFL) & O_ACCMODE;
            if (!S_ISSOCK(st.st_mode) && !(S_ISFIFO(st.st_mode) && (access == O_WRONLY || access == O_RDWR))) continue;
            [[maybe_unused]] const auto written = ::write(fd, k_header, sizeof k_header - 1);
        }
        // The host stops a liar: it never gets to return.
        for (;;) ::pause();
        return succeed_with(services, ctx, "unreachable");
    });
}

sh_status_t run_fds(const sh_services_t* services, sh_context_t* ctx, const char*, size_t) noexcept
{
    return guarded(services, ctx, [&] {
        std::string listing = "[";
        for (const int fd : open_descriptors()) {
            const std::string link = "/proc/self/fd/" + std::to_string(fd);
            std::string target(4096, '\0');
            const ssize_t length = ::readlink(link.c_str(), target.data(), target.size());
            if (length < 0) {
                // Closed since it was listed (by another thread): it is no longer open.
                continue;
            }
            target.resize(static_cast<std::size_t>(length));
            if (listing.size() > 1) {
                listing += ',';
            }
            listing += "{\"fd\":" + std::to_string(fd) + ",\"target\":" + json_quote(target) + "}";
        }
        listing += ']';
        return succeed_with(services, ctx, listing);
    });
}

} // namespace misbehave
