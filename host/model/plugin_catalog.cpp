#include "model/plugin_catalog.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

namespace sandhost::model {

namespace {

Poco::JSON::Object plugin_object(const PluginInfo& plugin)
{
    Poco::JSON::Object p(Poco::JSON_PRESERVE_KEY_ORDER);
    p.set("name", plugin.name);
    p.set("path", plugin.path.string());
    p.set("version", plugin.version);
    Poco::JSON::Array tasks;
    for (const auto& task : plugin.tasks) {
        Poco::JSON::Object t(Poco::JSON_PRESERVE_KEY_ORDER);
        t.set("name", task.name);
        t.set("description", task.description);
        tasks.add(t);
    }
    p.set("tasks", tasks);
    if (!plugin.ok()) p.set("error", plugin.error);
    return p;
}

std::string stringify(const Poco::JSON::Object& object)
{
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

} // namespace

std::string to_json(const PluginInfo& plugin) { return stringify(plugin_object(plugin)); }

std::string to_json(const PluginCatalog& catalog)
{
    Poco::JSON::Object root(Poco::JSON_PRESERVE_KEY_ORDER);
    Poco::JSON::Array dirs;
    for (const auto& dir : catalog.dirs) dirs.add(dir.string());
    root.set("dirs", dirs);
    Poco::JSON::Array plugins;
    for (const auto& plugin : catalog.plugins) plugins.add(plugin_object(plugin));
    root.set("plugins", plugins);
    return stringify(root);
}

std::optional<PluginCatalog> catalog_from_json(const std::string& json)
{
    try {
        Poco::JSON::Parser parser;
        const auto root = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
        if (!root) return std::nullopt;
        PluginCatalog catalog;
        if (const auto dirs = root->getArray("dirs")) {
            for (std::size_t i = 0; i < dirs->size(); ++i) catalog.dirs.emplace_back(dirs->getElement<std::string>(static_cast<unsigned>(i)));
        }
        const auto plugins = root->getArray("plugins");
        if (!plugins) return std::nullopt;
        for (std::size_t i = 0; i < plugins->size(); ++i) {
            const auto p = plugins->getObject(static_cast<unsigned>(i));
            if (!p) return std::nullopt;
            PluginInfo plugin;
            plugin.name = p->getValue<std::string>("name");
            plugin.path = p->optValue<std::string>("path", "");
            plugin.version = p->optValue<std::string>("version", "");
            plugin.error = p->optValue<std::string>("error", "");
            if (const auto tasks = p->getArray("tasks")) {
                for (std::size_t k = 0; k < tasks->size(); ++k) {
                    const auto t = tasks->getObject(static_cast<unsigned>(k));
                    if (!t) return std::nullopt;
                    plugin.tasks.push_back(TaskInfo{t->getValue<std::string>("name"), t->optValue<std::string>("description", "")});
                }
            }
            catalog.plugins.push_back(std::move(plugin));
        }
        return catalog;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

} // namespace sandhost::model
