#include "os/proc.h"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <string_view>
#include <unistd.h>
#include <unordered_set>

namespace sandhost::os {
namespace {

// Reads a small /proc file in one go (they are generated on read; no stdio needed).
std::optional<std::string> read_small_file(const std::string& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) break;
        text.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    return text;
}

std::vector<std::string> list_dir(const std::string& path)
{
    std::vector<std::string> names;
    if (DIR* dir = ::opendir(path.c_str())) {
        while (const dirent* entry = ::readdir(dir)) {
            if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
        }
        ::closedir(dir);
    }
    return names;
}

template <typename T>
void parse_numbers(std::string_view text, std::vector<T>& out)
{
    while (!text.empty()) {
        const size_t start = text.find_first_not_of(" \n");
        if (start == std::string_view::npos) break;
        text.remove_prefix(start);
        T value = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc()) break;
        out.push_back(value);
        text.remove_prefix(static_cast<size_t>(ptr - text.data()));
    }
}

// The fields of /proc/PID/stat after the command name, which may itself hold spaces and ')'.
std::optional<std::string> stat_fields(pid_t pid)
{
    auto text = read_small_file("/proc/" + std::to_string(pid) + "/stat");
    if (!text) return std::nullopt;
    const size_t close = text->rfind(')');
    if (close == std::string::npos || close + 2 > text->size()) return std::nullopt;
    return text->substr(close + 2);
}

void parse_pids(std::string_view text, std::vector<pid_t>& out) { parse_numbers(text, out); }

} // namespace

std::vector<pid_t> children_of(pid_t pid)
{
    std::vector<pid_t> children;
    const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& tid : list_dir(task_dir)) {
        if (auto text = read_small_file(task_dir + "/" + tid + "/children")) parse_pids(*text, children);
    }
    return children;
}

std::vector<pid_t> children_of_thread(pid_t pid, pid_t tid)
{
    std::vector<pid_t> children;
    if (auto text = read_small_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/children")) parse_pids(*text, children);
    return children;
}

std::vector<pid_t> descendants_of(pid_t pid)
{
    std::vector<pid_t> found;
    std::unordered_set<pid_t> seen{pid};
    std::deque<pid_t> queue{pid};
    while (!queue.empty()) {
        const pid_t current = queue.front();
        queue.pop_front();
        for (pid_t child : children_of(current)) {
            if (seen.insert(child).second) {
                found.push_back(child);
                queue.push_back(child);
            }
        }
    }
    return found;
}

std::optional<MemorySample> read_memory(pid_t pid)
{
    auto text = read_small_file("/proc/" + std::to_string(pid) + "/statm");
    if (!text || text->empty()) return std::nullopt;
    // statm is a list of page counts; an AddressSanitizer process maps terabytes.
    std::vector<std::uint64_t> pages;
    parse_numbers(*text, pages);
    if (pages.size() < 2) return std::nullopt;
    static const std::uint64_t page_kb = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024;
    return MemorySample{pages[0] * page_kb, pages[1] * page_kb};
}

std::optional<std::uint64_t> read_peak_rss_kb(pid_t pid)
{
    auto text = read_small_file("/proc/" + std::to_string(pid) + "/status");
    if (!text) return std::nullopt;
    const auto at = text->find("\nVmHWM:");
    if (at == std::string::npos) return std::nullopt;  // a kernel thread, or a zombie
    std::string_view field = std::string_view(*text).substr(at + 7);  // "\t    5816 kB\n..."
    field.remove_prefix(std::min(field.size(), field.find_first_not_of(" \t")));
    std::uint64_t kb = 0;
    if (std::from_chars(field.data(), field.data() + field.size(), kb).ec != std::errc()) return std::nullopt;
    return kb;
}

bool reset_own_peak_rss()
{
    // "5": reset the peak resident set size to the current one (Linux 4.0).
    const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n;
    do {
        n = ::write(fd, "5", 1);
    } while (n < 0 && errno == EINTR);
    ::close(fd);
    return n == 1;
}

namespace {

// `fields` without its first `count` space-separated fields; nullopt when it has fewer.
std::optional<std::string_view> after_fields(std::string_view fields, int count)
{
    for (int skipped = 0; skipped < count; ++skipped) {
        const size_t space = fields.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        fields.remove_prefix(space + 1);
    }
    return fields;
}

} // namespace

std::optional<std::uint64_t> read_cpu_ms(pid_t pid)
{
    auto fields = stat_fields(pid);
    if (!fields) return std::nullopt;
    // After the command: state(3) ppid(4) ... utime(14) stime(15); fields[0] is the state.
    auto rest = after_fields(*fields, 11);
    if (!rest) return std::nullopt;
    std::vector<std::uint64_t> ticks;
    parse_numbers(rest->substr(0, rest->find(' ', rest->find(' ') + 1)), ticks);
    if (ticks.size() < 2) return std::nullopt;
    static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
    return (ticks[0] + ticks[1]) * 1000 / static_cast<std::uint64_t>(ticks_per_second);
}

std::optional<std::uint64_t> start_time(pid_t pid)
{
    auto fields = stat_fields(pid);
    if (!fields) return std::nullopt;
    // After the command: state(3) ... starttime(22); fields[0] is the state.
    auto rest = after_fields(*fields, 19);
    if (!rest) return std::nullopt;
    std::vector<std::uint64_t> ticks;
    parse_numbers(rest->substr(0, rest->find(' ')), ticks);
    if (ticks.empty()) return std::nullopt;
    return ticks[0];
}

std::optional<char> process_state(pid_t pid)
{
    auto fields = stat_fields(pid);
    if (!fields || fields->empty()) return std::nullopt;
    return (*fields)[0];
}

std::optional<pid_t> parent_of(pid_t pid)
{
    auto fields = stat_fields(pid);
    if (!fields || fields->size() < 3) return std::nullopt;
    std::vector<pid_t> numbers;
    parse_pids(std::string_view(*fields).substr(2), numbers);
    if (numbers.empty()) return std::nullopt;
    return numbers[0];
}

std::string read_cmdline(pid_t pid)
{
    auto text = read_small_file("/proc/" + std::to_string(pid) + "/cmdline");
    if (!text) return {};
    while (!text->empty() && text->back() == '\0') text->pop_back();
    for (char& c : *text) {
        if (c == '\0') c = ' ';
    }
    return *text;
}

std::vector<pid_t> all_processes()
{
    std::vector<pid_t> pids;
    for (const auto& name : list_dir("/proc")) {
        if (name.find_first_not_of("0123456789") == std::string::npos) pids.push_back(std::atoi(name.c_str()));
    }
    return pids;
}

void name_this_thread(std::string_view name)
{
    char buffer[16] = {};
    name.copy(buffer, sizeof buffer - 1);
    ::pthread_setname_np(::pthread_self(), buffer);  // fails only for a name too long: cut above
}

} // namespace sandhost::os
