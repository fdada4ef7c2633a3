#include "cli/args.h"

#include "config/suggest.h"

#include <algorithm>

namespace sandhost::cli {

std::optional<std::string> ParsedArgs::get(const std::string& name) const
{
    auto it = m_values.find(name);
    if (it == m_values.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> ParsedArgs::all(const std::string& name) const
{
    auto it = m_values.find(name);
    return it == m_values.end() ? std::vector<std::string>{} : it->second;
}

ParsedArgs parse_args(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs)
{
    ParsedArgs parsed;
    bool options_done = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (options_done || arg.size() < 2 || arg.rfind("--", 0) != 0) {
            if (!options_done && arg.size() > 1 && arg[0] == '-' && arg != "-") {
                throw UsageError("unknown option '" + arg + "' (options are spelled --name)");
            }
            parsed.positional.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        std::string name = arg.substr(2);
        std::optional<std::string> inline_value;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            inline_value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        auto spec = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.name == name; });
        if (spec == specs.end()) {
            std::vector<std::string> names;
            for (const auto& s : specs) names.push_back(s.name);
            std::string message = "unknown option '--" + name + "'";
            if (auto close = config::closest_match(name, names)) message += " (did you mean '--" + *close + "'?)";
            throw UsageError(message);
        }
        if (!spec->repeatable && parsed.has(name)) throw UsageError("option '--" + name + "' given more than once");
        if (spec->value_name.empty()) {
            if (inline_value) throw UsageError("option '--" + name + "' takes no value");
            parsed.add(name, "");
            continue;
        }
        if (inline_value) {
            parsed.add(name, *inline_value);
        } else if (i + 1 < args.size()) {
            parsed.add(name, args[++i]);
        } else {
            throw UsageError("option '--" + name + "' needs a value (" + spec->value_name + ")");
        }
    }
    return parsed;
}

std::string describe_options(const std::vector<OptionSpec>& specs)
{
    std::string text;
    for (const auto& spec : specs) {
        std::string left = "  --" + spec.name + (spec.value_name.empty() ? "" : " " + spec.value_name);
        if (left.size() < 28) left.resize(28, ' ');
        else left += "  ";
        text += left + spec.help + "\n";
    }
    return text;
}

} // namespace sandhost::cli
