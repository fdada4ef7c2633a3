#include "config/loader.h"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>

namespace sandhost::config {
namespace {

const std::vector<std::string> k_api_keys{"listen", "token", "token_file", "tls", "max_body", "metrics_auth"};
const std::vector<std::string> k_tls_keys{"cert", "key"};

// A token worth the name: printable ASCII without spaces, as an Authorization header carries it.
std::optional<std::string> token_problem(const std::string& token)
{
    if (token.empty()) return "the token is empty";
    if (token.size() < 16) return "the token is shorter than 16 characters";
    for (const char c : token) {
        if (c <= ' ' || c > '~') return "the token may hold only printable ASCII characters, no spaces";
    }
    return std::nullopt;
}

} // namespace

void Loader::read_api(const YamlEntry& entry)
{
    const YamlNode* map = mapping_value(entry);
    if (map == nullptr) return;
    ApiSettings& api = m_settings.api;
    Section fields = section(*map, "in api", k_api_keys);

    const YamlEntry* listen_entry = fields.get("listen");
    if (listen_entry != nullptr) {
        if (auto text = scalar(*listen_entry, "HOST:PORT")) {
            auto listen = ApiListen::parse(*text);
            if (listen) api.listen = listen.value();
            else report(*listen_entry->value, "listen: " + listen.error());
        }
    }
    const YamlEntry* token_entry = fields.get("token");
    const YamlEntry* file_entry = fields.get("token_file");
    if (token_entry != nullptr && file_entry != nullptr) {
        report(*file_entry->key, "give token or token_file, not both");
    } else if (token_entry != nullptr) {
        if (auto text = scalar(*token_entry, "a token")) {
            if (auto problem = token_problem(*text)) report(*token_entry->value, "token: " + *problem);
            else api.token = *text;
        }
    } else if (file_entry != nullptr) {
        if (auto text = scalar(*file_entry, "a file holding the token")) {
            std::filesystem::path file(*text);
            if (file.is_relative()) file = m_dir / file;
            file = file.lexically_normal();
            std::ifstream in(file, std::ios::binary);
            if (!in) {
                report(*file_entry->value, "token_file: cannot read " + file.string() + ": " +
                                               std::error_code(errno, std::generic_category()).message());
            } else {
                std::ostringstream content;
                content << in.rdbuf();
                std::string token = content.str();
                // A file written by `echo` ends with a newline that is not part of the token.
                while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
                if (auto problem = token_problem(token)) {
                    report(*file_entry->value, "token_file: " + file.string() + ": " + *problem);
                } else {
                    api.token = std::move(token);
                    api.token_file = file;
                }
            }
        }
    }
    if (const auto* e = fields.get("tls")) {
        if (const YamlNode* tls = mapping_value(*e)) {
            Section tls_fields = section(*tls, "in api.tls", k_tls_keys);
            TlsFiles files;
            bool complete = true;
            for (const auto& [name, out] : {std::pair<const char*, std::filesystem::path*>{"cert", &files.cert}, {"key", &files.key}}) {
                const YamlEntry* file_entry_tls = tls_fields.get(name);
                if (file_entry_tls == nullptr) {
                    report(*e->key, std::string("tls: ") + name + " is missing (tls needs cert and key)");
                    complete = false;
                    continue;
                }
                auto text = scalar(*file_entry_tls, "a PEM file");
                if (!text) {
                    complete = false;
                    continue;
                }
                std::filesystem::path path(*text);
                if (path.is_relative()) path = m_dir / path;
                path = path.lexically_normal();
                if (!std::ifstream(path)) {
                    report(*file_entry_tls->value, std::string(name) + ": cannot read " + path.string() + ": " +
                                                        std::error_code(errno, std::generic_category()).message());
                    complete = false;
                    continue;
                }
                *out = path;
            }
            if (complete) api.tls = files;
        }
    }
    if (const auto* e = fields.get("max_body")) read_size(*e, 1024, api.max_body);
    if (const auto* e = fields.get("metrics_auth")) read_bool(*e, api.metrics_auth);

    // Anyone who can reach the port could enqueue and cancel jobs: off this machine, only with a
    // token. Checked here, so that `validate` and every start refuse it alike.
    if (api.listen && !api.listen->is_loopback() && !api.token && token_entry == nullptr && file_entry == nullptr) {
        report(*listen_entry->value, "listen: " + api.listen->to_string() +
                                         " is not a loopback address, and anyone who can reach it could run jobs: "
                                         "set api.token or api.token_file (or listen on 127.0.0.1)");
    }
}

} // namespace sandhost::config
