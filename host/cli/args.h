// Command-line arguments of one subcommand: options declared up front, checked strictly.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sandhost::cli {

// A mistake on the command line; the message names the option or argument. Exit status 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct OptionSpec {
    std::string name;        // without dashes: "timeout"
    std::string value_name;  // empty for a flag: "DUR"
    std::string help;
    bool repeatable = false;
};

class ParsedArgs {
public:
    std::vector<std::string> positional;

    bool has(const std::string& name) const { return m_values.count(name) > 0; }
    std::optional<std::string> get(const std::string& name) const;
    std::vector<std::string> all(const std::string& name) const;
    void add(const std::string& name, std::string value) { m_values[name].push_back(std::move(value)); }

private:
    std::map<std::string, std::vector<std::string>> m_values;
};

// Parses args (after the subcommand) against specs: "--name value", "--name=value", flags,
// "--" ends options. Unknown options (with a did-you-mean), missing values and repeated
// non-repeatable options throw UsageError.
ParsedArgs parse_args(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs);

// "  --timeout DUR      per-attempt deadline" lines for help text.
std::string describe_options(const std::vector<OptionSpec>& specs);

} // namespace sandhost::cli
