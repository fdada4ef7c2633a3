// `sandhost backup`, `sandhost compact` and `sandhost restore`: the embedded store's file,
// copied while hosts run, or rebuilt or replaced while none does.
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/host_context.h"
#include "cli/job_format.h"
#include "model/units.h"
#include "store/sqlite_store.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <iostream>
#include <stdexcept>

namespace sandhost::cli {
namespace {

std::filesystem::path sqlite_file_of(const config::Settings& settings, const std::string& command)
{
    if (const auto* sqlite = std::get_if<config::SqliteStore>(&settings.host.store)) return sqlite->path;
    throw std::runtime_error("the store is a Redis server (" + config::to_string(settings.host.store) + "); `sandhost " + command +
                             "` works on the embedded SQLite store. Back a Redis store up with Redis itself (BGSAVE, or a replica)");
}

std::optional<int> page_size_option(const ParsedArgs& args)
{
    const auto text = args.get("page-size");
    if (!text) return std::nullopt;
    const std::uint64_t bytes = parse_size_flag("page-size", *text);
    if (!model::is_store_page_size(bytes)) {
        throw UsageError("--page-size: expected a power of two from 512B to 64KiB, got " + *text);
    }
    return static_cast<int>(bytes);
}

// What a command wrote beyond the file's report, each printed when the command has it.
struct Extras {
    // restore's: where the store it replaced is kept (null in the JSON when none was), and the
    // id of the event its feed goes on from.
    std::optional<std::optional<std::filesystem::path>> replaced;
    std::optional<std::int64_t> event;
    // backup into a folder: the older backups deleted for --keep.
    std::optional<std::vector<std::filesystem::path>> deleted;
};

void print_report(const ParsedArgs& args, const std::string& summary, const std::filesystem::path& written,
                  const store::SqliteFileReport& report, const Extras& extras = {})
{
    const auto& replaced = extras.replaced;
    const auto& deleted = extras.deleted;
    if (args.has("json")) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("file", written.string());
        if (replaced) o.set("replaced", *replaced ? Poco::Dynamic::Var((*replaced)->string()) : Poco::Dynamic::Var());
        if (extras.event) o.set("event", static_cast<Poco::Int64>(*extras.event));
        if (deleted) {
            Poco::JSON::Array list;
            for (const auto& file : *deleted) list.add(file.string());
            o.set("deleted", list);
        }
        o.set("bytes_before", static_cast<Poco::UInt64>(report.bytes_before));
        o.set("bytes", static_cast<Poco::UInt64>(report.bytes));
        o.set("page_size", report.page_size);
        o.set("schema_version", report.schema_version);
        o.set("jobs", static_cast<Poco::Int64>(report.jobs));
        print_json(o);
        return;
    }
    std::cout << summary << ": " << model::format_size(report.bytes) << " in pages of " << model::format_size(static_cast<std::uint64_t>(report.page_size))
              << ", " << report.jobs << " job" << (report.jobs == 1 ? "" : "s") << ", schema version " << report.schema_version << "\n";
    if (replaced && *replaced) std::cout << "the store it replaced is kept as " << (*replaced)->string() << "\n";
    if (extras.event) std::cout << "its event feed goes on from event " << *extras.event << " (store.restored)\n";
    if (deleted) {
        for (const auto& file : *deleted) std::cout << "deleted the older backup " << file.string() << "\n";
    }
}

// Both commands' options: what --page-size means differs.
std::vector<OptionSpec> file_command_options(const char* page_size_meaning)
{
    return {config_option(), {"page-size", "SIZE", page_size_meaning}, {"json", "", "print what was written as JSON"}, {"help", "", "show this help"}};
}

} // namespace

int backup_command(const std::vector<std::string>& raw)
{
    auto options = file_command_options("the copy's page size, a power of two from 512B to 64KiB (default: the store's)");
    options.insert(options.begin() + 2, OptionSpec{"keep", "N", "DEST a folder: then delete the oldest dated backups of this store there beyond N"});
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        return print_help("sandhost backup DEST [--keep N] [--page-size SIZE] [--json]",
                          "Copies the embedded store to DEST while hosts and commands keep using it: one consistent\n"
                          "snapshot, complete in one file (mode 0600), checked and synced before it appears at DEST.\n"
                          "A file DEST must not exist. A folder DEST gets a dated copy, STORE-YYYYMMDDTHHMMSSZ.db, and\n"
                          "with --keep N only the newest N such copies of this store stay there (a timer's rotation).\n"
                          "Any sandhost opens a copy as a store; `sandhost restore` puts it back.",
                          options);
    }
    if (args.positional.size() != 1) throw UsageError("expected one DEST, the file or folder to write into");
    const std::filesystem::path destination = args.positional[0];
    std::error_code ec;
    const bool into_folder = std::filesystem::is_directory(destination, ec) || args.positional[0].ends_with('/');
    std::optional<std::size_t> keep;
    if (auto text = args.get("keep")) {
        if (!into_folder) throw UsageError("--keep needs DEST to be a folder, and " + destination.string() + " is not one");
        keep = static_cast<std::size_t>(parse_count_flag("keep", *text, 1));
    }
    const auto settings = load_settings(args, false);
    const auto source = sqlite_file_of(*settings, "backup");
    const std::string from = "backed up " + source.string() + " (";
    if (!into_folder) {
        const auto report = store::backup_sqlite_store(source, destination, page_size_option(args));
        print_report(args, from + model::format_size(report.bytes_before) + ") to " + destination.string(),
                     std::filesystem::absolute(destination), report);
        return k_exit_ok;
    }
    const auto written = store::backup_sqlite_store_in_folder(source, destination, keep, page_size_option(args));
    print_report(args, from + model::format_size(written.report.bytes_before) + ") to " + written.file.string(), written.file,
                 written.report, Extras{std::nullopt, std::nullopt, written.deleted});
    return k_exit_ok;
}

int compact_command(const std::vector<std::string>& raw)
{
    const auto options = file_command_options("rebuild it with this page size, a power of two from 512B to 64KiB (default: the file's own)");
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        return print_help("sandhost compact [--page-size SIZE] [--json]",
                          "Rebuilds the embedded store's file in place: gives back the room that deleted jobs left\n"
                          "(a store file does not shrink after a purge by itself) and, with --page-size, changes the size\n"
                          "of its pages. It needs the file to itself: stop every host, `sandhost serve` and command using\n"
                          "it first; while one has it open nothing is changed (exit status 1). Interrupted, the file is as\n"
                          "it was. Needs free space for its pages in use twice, in SQLite's folder for temporary files\n"
                          "(SQLITE_TMPDIR, TMPDIR, /var/tmp) and beside the store; it looks first and refuses when short.",
                          options);
    }
    if (!args.positional.empty()) throw UsageError("unexpected argument '" + args.positional[0] + "'");
    const auto settings = load_settings(args, false);
    const auto file = sqlite_file_of(*settings, "compact");
    const auto report = store::compact_sqlite_store(file, page_size_option(args));
    print_report(args, "compacted " + file.string() + " from " + model::format_size(report.bytes_before), file, report);
    return k_exit_ok;
}

int restore_command(const std::vector<std::string>& raw)
{
    const std::vector<OptionSpec> options = {config_option(), {"json", "", "print what was written as JSON"}, {"help", "", "show this help"}};
    const auto args = parse_args(raw, options);
    if (args.has("help")) {
        return print_help("sandhost restore COPY [--json]",
                          "Puts a copy of COPY (a file `sandhost backup` wrote) at the embedded store's path. The store\n"
                          "there is kept beside it as FILE.replaced-TIME, and the restored store never hands out again a\n"
                          "job or attempt id the replaced one handed out; its event feed goes on from a store.restored\n"
                          "event above every event the replaced store wrote. It needs the file to itself: stop every host,\n"
                          "`sandhost serve` and command using it first; while one has it open nothing is changed (exit\n"
                          "status 1). COPY is left as it was.",
                          options);
    }
    if (args.positional.size() != 1) throw UsageError("expected one COPY, the backup to restore");
    const auto settings = load_settings(args, false);
    const auto file = sqlite_file_of(*settings, "restore");
    const auto report = store::restore_sqlite_store(args.positional[0], file);
    print_report(args, "restored " + args.positional[0] + " to " + file.string(), file, report.copy,
                 Extras{report.replaced, report.event, std::nullopt});
    return k_exit_ok;
}

} // namespace sandhost::cli
