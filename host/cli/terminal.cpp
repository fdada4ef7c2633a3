#include "cli/terminal.h"

#include "model/text.h"
#include "os/signals.h"

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace sandhost::cli {
namespace {

std::string last_lines(const std::string& text, int lines)
{
    std::size_t pos = text.size();
    if (pos > 0 && text[pos - 1] == '\n') --pos;
    for (int n = 0; n < lines && pos > 0; ++n) {
        const auto nl = text.rfind('\n', pos - 1);
        if (nl == std::string::npos) {
            pos = 0;
            break;
        }
        pos = nl;
    }
    std::string tail = text.substr(pos == 0 ? 0 : pos + 1);
    if (tail.size() > 2000) tail = "..." + tail.substr(tail.size() - 2000);
    return tail;
}

std::string indent(const std::string& text)
{
    std::string out = "    ";
    for (char c : text) {
        out += c;
        if (c == '\n') out += "    ";
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
    return out;
}

} // namespace

ProgressBar::ProgressBar() : m_enabled(::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::update(double percent, const std::string& message)
{
    if (!m_enabled) return;
    const auto now = std::chrono::steady_clock::now();
    if (m_drawn && percent < 100 && now - m_last_draw < std::chrono::milliseconds(50)) return;
    m_last_draw = now;
    constexpr int k_width = 30;
    const int filled = static_cast<int>(percent / 100.0 * k_width + 0.5);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(k_width, '.');
    std::string text = message.substr(0, 40);
    std::fprintf(stderr, "\r\033[K[%s] %3.0f%% %s", bar.c_str(), percent, text.c_str());
    std::fflush(stderr);
    m_drawn = true;
}

void ProgressBar::clear()
{
    if (m_enabled && m_drawn) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        m_drawn = false;
    }
}

std::string describe_outcome(const model::Outcome& o)
{
    using model::OutcomeKind;
    std::string text = to_string(o.kind);
    if (o.kind == OutcomeKind::crashed && o.signal_number) {
        text += " by " + os::signal_name(*o.signal_number) + (o.core_dumped ? " (core dumped)" : "");
    }
    if (o.kind == OutcomeKind::exited && o.exit_code) text += " with code " + std::to_string(*o.exit_code);
    if (o.limit) text += " (" + std::string(to_string(*o.limit)) + ")";
    if (o.killed) text += ", SIGKILL needed";
    text += " after " + std::to_string(o.duration.count()) + " ms";
    text += " [" + o.isolation;
    if (o.pid) text += ", pid " + std::to_string(*o.pid);
    if (o.max_rss_kb) text += ", peak RSS " + std::to_string(*o.max_rss_kb) + " KiB";
    if (o.cpu_ms) text += ", CPU " + std::to_string(*o.cpu_ms) + " ms";
    if (o.fallback) text += ", fallback " + *o.fallback;
    text += "]\n";
    if (o.kind == OutcomeKind::succeeded) {
        std::string shown = o.result.size() > 4000 ? o.result.substr(0, 4000) + "... (" + std::to_string(o.result.size()) + " bytes)" : o.result;
        text += "result: " + shown + "\n";
    }
    if (!o.error.empty()) text += "error: " + o.error + (o.permanent ? " (permanent)" : "") + "\n";
    if (o.progress) text += "progress: " + std::to_string(static_cast<int>(o.progress->percent)) + "% " + o.progress->message + "\n";
    if (!o.log.empty()) {
        text += "log (last lines" + (o.log_dropped ? ", " + std::to_string(o.log_dropped) + " earlier dropped" : std::string()) + "):\n";
        const std::size_t shown = std::min<std::size_t>(o.log.size(), 10);
        for (auto it = o.log.end() - static_cast<std::ptrdiff_t>(shown); it != o.log.end(); ++it) {
            text += "  [" + std::string(model::name_in(model::k_log_level_names, it->level)) + "] " + model::printable(it->message) + "\n";
        }
    }
    if (!o.stdout_tail.empty()) text += "stdout (last lines):\n" + indent(last_lines(o.stdout_tail, 5)) + "\n";
    if (!o.stderr_tail.empty()) text += "stderr (last lines):\n" + indent(last_lines(o.stderr_tail, 5)) + "\n";
    return text;
}

} // namespace sandhost::cli
