#include "config/suggest.h"

#include <algorithm>

namespace sandhost::config {

std::size_t edit_distance(std::string_view a, std::string_view b)
{
    // Three rows of the dynamic-programming table: the transposition step looks two back.
    std::vector<std::size_t> before(b.size() + 1);
    std::vector<std::size_t> previous(b.size() + 1);
    std::vector<std::size_t> current(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                current[j] = std::min(current[j], before[j - 2] + 1);
            }
        }
        std::swap(before, previous);
        std::swap(previous, current);
    }
    return previous[b.size()];
}

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates)
{
    // Long garbage must not cost quadratic time per candidate: nobody mistypes 64 characters.
    if (word.empty() || word.size() > 64) return std::nullopt;
    const std::size_t limit = word.size() <= 4 ? 1 : 2;
    std::optional<std::string> best;
    std::size_t best_distance = limit + 1;
    for (const auto& candidate : candidates) {
        if (candidate.size() > word.size() + limit || word.size() > candidate.size() + limit) continue;
        std::size_t distance = edit_distance(word, candidate);
        if (distance < best_distance && distance < word.size()) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

std::string join(const std::vector<std::string>& words, std::string_view separator)
{
    std::string text;
    for (const auto& word : words) {
        if (!text.empty()) text += separator;
        text += word;
    }
    return text;
}

std::string suggestion(std::string_view word, std::vector<std::string> candidates, std::string_view list_name)
{
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    std::string text;
    if (auto close = closest_match(word, candidates)) text += " (did you mean '" + *close + "'?)";
    text += "; " + std::string(list_name) + ": " + (candidates.empty() ? std::string("(none)") : join(candidates));
    return text;
}

} // namespace sandhost::config
