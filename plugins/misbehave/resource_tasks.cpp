// Tasks that use up a resource (CPU, memory, disk, output) or resist being stopped. The host's
// limits and its stop policy are what end them.
#include "support.h"
#include "tasks.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace misbehave {
namespace {

constexpr std::size_t k_mib = std::size_t{1} << 20;
constexpr std::int64_t k_max_mib = std::int64_t{1} << 20;

// The leaked blocks form a list whose head lives here, so every block stays reachable and the
// optimiser cannot drop the allocations as unused.
void* volatile g_leaked_head = nullptr;

volatile std::uint64_t g_spin_sink = 0;

// Writes size bytes at data to fd, resuming after short writes and signals. Returns 0 or errno.
int write_all(int fd, const char* data, std::size_t size)
{
    while (size > 0) {
        const ssize_t written = ::write(fd, data, size);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        data += written;
        size -= static_cast<std::size_t>(written);
    }
    return 0;
}

} // namespace

sh_status_t run_hang(const sh_services_t*, sh_context_t*, const char*, size_t) noexcept
{
    volatile std::uint64_t spins = 0;
    for (;;) {
        spins = spins + 1;
    }
}

sh_status_t run_cpu_spin(const sh_services_t*, sh_context_t*, const char*, size_t) noexcept
{
    std::uint64_t state = 0x9E3779B97F4A7C15u;
    for (;;) {
        // xorshift64: cheap work whose every result is stored, so the loop stays.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        g_spin_sink = state;
    }
}

sh_status_t run_ignore_term(const sh_services_t* services, sh_context_t* ctx, const char*, size_t) noexcept
{
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    if (::sigaction(SIGTERM, &ignore, nullptr) != 0) {
        return fail_with(services, ctx, errno_message("sigaction(SIGTERM, SIG_IGN)", errno), SH_RETRY_NEVER);
    }
    for (;;) {
        ::pause();
    }
}

sh_status_t run_leak(const sh_services_t*, sh_context_t*, const char*, size_t) noexcept
{
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    for (;;) {
        char* block = static_cast<char*>(std::malloc(k_mib));
        if (block == nullptr) {
            std::abort();
        }
        // Touching every page makes the kernel back it, so resident memory really grows.
        volatile char* pages = block;
        for (std::size_t offset = 0; offset < k_mib; offset += page) {
            pages[offset] = 1;
        }
        void* previous = g_leaked_head;
        std::memcpy(block, &previous, sizeof previous);
        g_leaked_head = block;
    }
}

sh_status_t run_write_file(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    return guarded(services, ctx, [&] {
        const Payload fields = Payload::parse(std::string_view(payload, payload_size));
        const std::string path = fields.string("path");
        const auto mib = fields.integer("mib", 0, k_max_mib);
        const std::vector<char> chunk(k_mib, 'w');
        // Nothing between open and close can throw, so the plain descriptor cannot leak.
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            return fail_with(services, ctx, errno_message("open " + path, errno), SH_RETRY_ALLOWED);
        }
        for (std::int64_t i = 0; i < mib; ++i) {
            if (const int error = write_all(fd, chunk.data(), chunk.size()); error != 0) {
                ::close(fd);
                return fail_with(services, ctx, errno_message("write " + path, error), SH_RETRY_ALLOWED);
            }
        }
        if (::close(fd) != 0) {
            return fail_with(services, ctx, errno_message("close " + path, errno), SH_RETRY_ALLOWED);
        }
        return succeed_with(services, ctx, "{\"bytes\":" + std::to_string(static_cast<std::uint64_t>(mib) * k_mib) + "}");
    });
}

sh_status_t run_flood_stdout(const sh_services_t* services, sh_context_t* ctx, const char* payload, size_t payload_size) noexcept
{
    return guarded(services, ctx, [&] {
        const auto mib = Payload::parse(std::string_view(payload, payload_size)).integer("mib", 0, k_max_mib);
        // Whole lines of text, so a captured tail reads as the flood it is.
        std::string chunk;
        chunk.reserve(k_mib);
        static constexpr std::string_view k_line = "flood flood flood flood flood flood flood flood flood flood flood\n";
        while (chunk.size() + k_line.size() <= k_mib) {
            chunk += k_line;
        }
        chunk.resize(k_mib, '\n');
        for (std::int64_t i = 0; i < mib; ++i) {
            if (const int error = write_all(STDOUT_FILENO, chunk.data(), chunk.size()); error != 0) {
                return fail_with(services, ctx, errno_message("write stdout", error), SH_RETRY_ALLOWED);
            }
        }
        return succeed_with(services, ctx, "{\"bytes\":" + std::to_string(static_cast<std::uint64_t>(mib) * k_mib) + "}");
    });
}

} // namespace misbehave
