// What people see: a progress bar on a terminal and a short summary of an outcome.
#pragma once

#include "model/outcome.h"

#include <chrono>
#include <string>

namespace sandhost::cli {

// Draws "[#####.....]  50% message" on one line of stderr, when stderr is a terminal.
class ProgressBar {
public:
    ProgressBar();
    void update(double percent, const std::string& message);
    // Erases the bar so the next output starts on a clean line.
    void clear();
    bool enabled() const { return m_enabled; }

private:
    bool m_enabled = false;
    bool m_drawn = false;
    std::chrono::steady_clock::time_point m_last_draw{};
};

// A few lines for a person: the outcome and its key facts, the result or error, and the
// tails of stdout and stderr when there is something in them.
std::string describe_outcome(const model::Outcome& outcome);

} // namespace sandhost::cli
