#include "worker/failure.h"

#include <cstring>
#include <unistd.h>

namespace sandhost::worker {
namespace {

// A line built in place, cut at its capacity.
class Line {
public:
    Line& add(const char* text) noexcept
    {
        while (text && *text && m_size < sizeof m_text - 1) m_text[m_size++] = *text++;
        return *this;
    }
    Line& add_number(int value) noexcept
    {
        char digits[12];
        int n = 0;
        unsigned magnitude = value < 0 ? 0u - static_cast<unsigned>(value) : static_cast<unsigned>(value);
        do {
            digits[n++] = static_cast<char>('0' + magnitude % 10);
            magnitude /= 10;
        } while (magnitude > 0);
        if (value < 0) add("-");
        while (n > 0 && m_size < sizeof m_text - 1) m_text[m_size++] = digits[--n];
        return *this;
    }
    // Ends the line and writes it to stderr; a failed write has nowhere left to be told.
    void write_to_stderr() noexcept
    {
        m_text[m_size++] = '\n';
        [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, m_text, m_size);
    }

private:
    char m_text[512];
    std::size_t m_size = 0;
};

} // namespace

void report_failure(const char* call, const char* object, int error) noexcept
{
    Line line;
    line.add("sandhost-worker: ").add(call);
    if (object && *object) line.add("(").add(object).add(")");
    if (error != 0) {
        // strerrordesc_np reads a constant table: unlike strerror it needs no locale or buffer.
        if (const char* description = ::strerrordesc_np(error)) line.add(": ").add(description);
        else line.add(": errno ").add_number(error);
    }
    line.write_to_stderr();
}

void report(const char* message) noexcept
{
    Line line;
    line.add("sandhost-worker: ").add(message).write_to_stderr();
}

void fail(protocol::WorkerExit code, const char* call, const char* object, int error) noexcept
{
    report_failure(call, object, error);
    exit_with(code);
}

void fail(protocol::WorkerExit code, const char* message) noexcept
{
    report(message);
    exit_with(code);
}

void exit_with(protocol::WorkerExit code) noexcept { ::_exit(protocol::exit_code(code)); }

} // namespace sandhost::worker
