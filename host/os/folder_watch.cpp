#include "os/folder_watch.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <sys/inotify.h>
#include <unistd.h>

namespace sandhost::os {
namespace {

// What may leave a watched folder other than empty and 0700 to its owner. An entry's own
// changes (writes, removals) need nothing: it was made, and reported, first.
constexpr std::uint32_t k_events =
    IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_ONLYDIR | IN_DONT_FOLLOW;

} // namespace

std::optional<int> FolderWatch::watch(const std::filesystem::path& folder)
{
    std::lock_guard lock(m_mutex);
    if (m_unavailable) return std::nullopt;
    if (!m_inotify) {
        m_inotify.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!m_inotify) {
            m_unavailable = errno != EMFILE && errno != ENFILE;  // short of descriptors: try again later
            return std::nullopt;
        }
    }
    // Events of a folder watched before under the same number (numbers are handed out in turn,
    // but a long life wraps them) must not count against this one.
    take_events();
    const int watch = ::inotify_add_watch(m_inotify.get(), folder.c_str(), k_events);
    if (watch < 0) return std::nullopt;
    m_watched.insert(watch);
    m_changed.erase(watch);
    return watch;
}

bool FolderWatch::unchanged(int watch)
{
    std::lock_guard lock(m_mutex);
    take_events();
    if (!m_watched.count(watch)) return false;
    return m_changed.erase(watch) == 0;
}

void FolderWatch::forget(int watch)
{
    std::lock_guard lock(m_mutex);
    if (!m_watched.erase(watch)) return;
    m_changed.erase(watch);
    ::inotify_rm_watch(m_inotify.get(), watch);  // gone with its folder already: nothing to do
}

void FolderWatch::take_events()
{
    alignas(inotify_event) char buffer[16 * (sizeof(inotify_event) + NAME_MAX + 1)];
    for (;;) {
        const ssize_t n = ::read(m_inotify.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            // Cannot be read: nothing it said can be trusted any more.
            m_changed = m_watched;
            return;
        }
        for (ssize_t at = 0; at < n;) {
            inotify_event event;
            std::memcpy(&event, buffer + at, sizeof event);
            at += static_cast<ssize_t>(sizeof event + event.len);
            if (event.mask & IN_Q_OVERFLOW) {
                m_changed = m_watched;  // events were dropped: any folder may have changed
            } else if (event.mask & IN_IGNORED) {
                // The kernel ended the watch (its folder is gone): it can say nothing more.
                m_watched.erase(event.wd);
                m_changed.erase(event.wd);
            } else if (m_watched.count(event.wd)) {
                m_changed.insert(event.wd);
            }
        }
    }
}

} // namespace sandhost::os
