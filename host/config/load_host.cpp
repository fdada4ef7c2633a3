#include "config/loader.h"

#include <unistd.h>

#include <climits>

namespace sandhost::config {
namespace {

const std::vector<std::string> k_host_keys{"name", "store", "store_prefix", "store_page_size", "store_sync", "lease",
                                           "plugin_dirs", "max_workers", "max_payload", "retention", "allow_insecure_plugins", "log"};
const std::vector<std::string> k_log_keys{"level", "format"};

using model::EnumName;
constexpr EnumName<LogLevel> k_log_levels[] = {{"trace", LogLevel::trace},
                                               {"debug", LogLevel::debug},
                                               {"info", LogLevel::info},
                                               {"warn", LogLevel::warn},
                                               {"error", LogLevel::error}};
constexpr EnumName<StoreSync> k_store_syncs[] = {{"normal", StoreSync::normal}, {"full", StoreSync::full}};
constexpr EnumName<LogFormat> k_log_formats[] = {{"text", LogFormat::text}, {"json", LogFormat::json}};

std::string machine_hostname()
{
    char buffer[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
    return buffer;
}

} // namespace

void Loader::read_host(const YamlEntry* entry)
{
    HostSettings& host = m_settings.host;
    host.store = SqliteStore{(m_dir / "sandhost.db").lexically_normal()};
    const YamlNode* map = entry != nullptr ? mapping_value(*entry) : nullptr;
    Section fields = map != nullptr ? section(*map, "in host", k_host_keys) : Section{};

    if (const auto* e = fields.get("name")) {
        read_string(*e, host.name);
    }
    if (host.name.empty()) host.name = machine_hostname();
    if (const auto* e = fields.get("store")) {
        if (auto text = scalar(*e, "a store URL")) {
            auto store = parse_store_url(*text, m_dir);
            if (store) {
                host.store = store.value();
            } else {
                report(*e->value, store.error());
            }
        }
    }
    if (const auto* e = fields.get("store_prefix")) read_string(*e, host.store_prefix);
    if (const auto* e = fields.get("store_page_size")) {
        std::uint64_t size = 0;
        if (read_size(*e, 512, size)) {
            if (!model::is_store_page_size(size)) {
                report(*e->value, "store_page_size: must be a power of two from 512B to 64KiB, got " + in_quotes(e->value->text));
            } else {
                host.store_page_size = size;
            }
        }
    }
    if (const auto* e = fields.get("store_sync")) read_enum(*e, k_store_syncs, host.store_sync);
    if (const auto* e = fields.get("lease")) read_duration(*e, std::chrono::milliseconds(100), host.lease);
    if (const auto* e = fields.get("plugin_dirs")) {
        m_plugin_dirs_at = where(*e->key);
        if (const YamlNode* list = sequence_value(*e)) {
            for (const auto& item : list->items) {
                auto text = scalar_item(*item, "plugin_dirs", "a directory");
                if (!text) continue;
                if (text->empty()) {
                    report(*item, "plugin_dirs: a directory must not be empty");
                    continue;
                }
                std::filesystem::path dir(*text);
                if (dir.is_relative()) dir = m_dir / dir;
                host.plugin_dirs.push_back(dir.lexically_normal());
            }
        }
    }
    if (const auto* e = fields.get("max_workers")) read_count_as(*e, 1, 4096, host.max_workers);
    if (const auto* e = fields.get("max_payload")) read_size(*e, 2, host.max_payload);
    if (const auto* e = fields.get("retention")) {
        if (const YamlNode* retention = mapping_value(*e)) read_retention(*retention, "host.retention", host.retention);
    }
    if (const auto* e = fields.get("allow_insecure_plugins")) read_bool(*e, host.allow_insecure_plugins);
    if (const auto* e = fields.get("log")) {
        if (const YamlNode* log = mapping_value(*e)) {
            Section log_fields = section(*log, "in host.log", k_log_keys);
            if (const auto* l = log_fields.get("level")) read_enum(*l, k_log_levels, host.log.level);
            if (const auto* f = log_fields.get("format")) read_enum(*f, k_log_formats, host.log.format);
        }
    }
}

} // namespace sandhost::config
