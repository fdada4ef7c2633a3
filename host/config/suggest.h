// Did-you-mean for names people mistype: keys, enum values, queue and plugin names.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandhost::config {

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
// of adjacent characters each cost 1 ("timout" and "memroy" are 1 away from the right word).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, when close enough to be a likely typo: at most 1 edit for
// words up to 4 characters, else at most 2 (and fewer than the word's length).
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);

// What a message about an unknown name adds: " (did you mean 'x'?); LIST_NAME: a, b, c", the
// question only when one candidate is close, "(none)" when there are none.
std::string suggestion(std::string_view word, std::vector<std::string> candidates, std::string_view list_name);

// "a, b and c" style lists for messages: "a, b, c".
std::string join(const std::vector<std::string>& words, std::string_view separator = ", ");

} // namespace sandhost::config
