#include "config/validate.h"

#include "config/to_yaml.h"

namespace sandhost::config {
namespace {

std::string counted(std::size_t n, const char* singular, const char* plural)
{
    return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

} // namespace

std::string summary_line(const std::filesystem::path& file, const Settings& settings)
{
    return file.string() + ": OK: " + counted(settings.queues.size(), "queue", "queues") + ", " +
           counted(settings.schedules.size(), "schedule", "schedules") + ", " +
           counted(settings.host.plugin_dirs.size(), "plugin dir", "plugin dirs");
}

int run_validate(const std::filesystem::path& file, bool print, std::ostream& out, std::ostream& err,
                 const LoadOptions& options)
{
    LoadResult result = load_config(file, options);
    if (!result.ok()) {
        for (const auto& error : result.errors) err << error.to_string() << '\n';
        return k_validate_invalid;
    }
    if (result.settings->queues.empty()) {
        err << file.string() << ": warning: no queues: a host serving this configuration runs nothing\n";
    }
    if (print) {
        // The summary as a comment keeps the output loadable as it is.
        out << "# " << summary_line(file, *result.settings) << '\n' << to_yaml(*result.settings);
    } else {
        out << summary_line(file, *result.settings) << '\n';
    }
    out.flush();
    return k_validate_ok;
}

} // namespace sandhost::config
