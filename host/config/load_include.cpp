#include "config/loader.h"

#include <glob.h>

#include <system_error>

namespace sandhost::config {
namespace {

using Kind = YamlNode::Kind;

bool has_glob_magic(std::string_view text)
{
    return text.find_first_of("*?[") != std::string_view::npos;
}

} // namespace

void Loader::read_includes(const YamlEntry& entry)
{
    const YamlNode* list = sequence_value(entry);
    if (list == nullptr) return;
    for (const auto& item : list->items) {
        auto pattern = scalar_item(*item, "include", "a file name or glob");
        if (!pattern) continue;
        if (pattern->empty()) {
            report(*item, "include: a file name must not be empty");
            continue;
        }
        if (m_options.includes == Includes::refuse) {
            report(*item, "include " + in_quotes(*pattern) + ": includes are not followed here");
            continue;
        }
        std::filesystem::path relative(*pattern);
        std::filesystem::path full = relative.is_absolute() ? relative : m_file.parent_path() / relative;
        const SourceLocation from = where(*item);

        glob_t matches{};
        int status = ::glob(full.c_str(), 0, nullptr, &matches);
        std::vector<std::filesystem::path> files;
        for (std::size_t i = 0; status == 0 && i < matches.gl_pathc; ++i) files.emplace_back(matches.gl_pathv[i]);
        ::globfree(&matches);
        bool literal = !has_glob_magic(*pattern);
        if (status == GLOB_NOMATCH || (status == 0 && files.empty())) {
            if (literal) report(from, "include " + in_quotes(*pattern) + ": no such file " + full.string());
            continue;
        }
        if (status != 0) {
            report(from, "include " + in_quotes(*pattern) + ": cannot list " + full.string());
            continue;
        }
        for (const auto& file : files) {
            std::error_code ec;
            if (!std::filesystem::is_regular_file(file, ec)) {
                // A directory next to the drop-in files is not a mistake; naming one is.
                if (literal) report(from, "include " + in_quotes(*pattern) + ": " + file.string() + " is not a file");
                continue;
            }
            load_included(file, from, *pattern);
        }
    }
}

void Loader::load_included(const std::filesystem::path& path, const SourceLocation& from, std::string_view pattern)
{
    std::error_code ec;
    std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
    if (ec) canonical = path;
    if (auto first = m_loaded.find(canonical); first != m_loaded.end()) {
        report(from, "include " + in_quotes(pattern) + ": " + path.string() + " is already loaded (as " +
                         first->second.string() + ")");
        return;
    }
    m_loaded.emplace(canonical, path);
    auto text = read_file(path, &from, pattern);
    if (!text) return;

    const std::filesystem::path outer_file = m_file;
    const std::filesystem::path outer_dir = m_dir;
    enter_file(path);
    m_settings.included_files.push_back(path);
    if (YamlNodePtr root = parse_yaml(*text, m_file, m_errors)) {
        if (root->kind == Kind::mapping) {
            read_file_body(*root, true);
        } else if (root->kind != Kind::null) {  // an empty drop-in file adds nothing
            report(*root, "expected a mapping with queues, schedules or include, got " + describe(*root));
        }
    }
    m_file = outer_file;
    m_dir = outer_dir;
}

} // namespace sandhost::config
