// One table per enum that has spellings: the names the YAML, the CLI, the store and the JSON
// all use, so that no layer writes them again.
#pragma once

#include <optional>
#include <string_view>

namespace sandhost::model {

template <class E>
struct EnumName {
    std::string_view name;
    E value;
};

// The name of `value` in `table`, or "unknown" when it is not there.
template <class E, std::size_t n>
constexpr const char* name_in(const EnumName<E> (&table)[n], E value)
{
    for (const auto& entry : table) {
        if (entry.value == value) return entry.name.data();
    }
    return "unknown";
}

template <class E, std::size_t n>
constexpr std::optional<E> value_in(const EnumName<E> (&table)[n], std::string_view name)
{
    for (const auto& entry : table) {
        if (entry.name == name) return entry.value;
    }
    return std::nullopt;
}

} // namespace sandhost::model
