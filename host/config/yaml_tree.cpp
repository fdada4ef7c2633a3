#include "config/yaml_tree.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <unordered_map>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "config/load.h"

namespace sandhost::config {
namespace {

// Thrown from inside the event handler to stop yaml-cpp before it recurses any deeper.
struct StopParsing {
    YAML::Mark mark;
    std::string message;
};

int one_based(int zero_based)
{
    return zero_based < 0 ? 1 : zero_based + 1;
}

class TreeBuilder final : public YAML::EventHandler {
public:
    TreeBuilder(const std::filesystem::path& file, std::vector<ConfigError>& errors)
        : m_file(file), m_errors(errors)
    {
    }

    YamlNodePtr root() const { return m_root; }

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}

    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override
    {
        add(make(YamlNode::Kind::null, mark), anchor);
    }

    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override
    {
        auto it = m_anchors.find(anchor);
        if (it != m_anchors.end()) {
            add(it->second, 0);
            return;
        }
        // yaml-cpp has checked that the anchor exists, so it belongs to a node still open: the
        // alias would make the tree a cycle.
        error(mark, "alias refers to a node that contains it");
        add(make(YamlNode::Kind::null, mark), 0);
    }

    void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override
    {
        auto node = make(YamlNode::Kind::scalar, mark);
        node->text = value;
        node->plain = tag == "?";  // yaml-cpp's non-specific tag of plain scalars; "!" when quoted
        add(std::move(node), anchor);
    }

    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override
    {
        open(make(YamlNode::Kind::sequence, mark), anchor, mark);
    }

    void OnSequenceEnd() override { close(); }

    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override
    {
        open(make(YamlNode::Kind::mapping, mark), anchor, mark);
    }

    void OnMapEnd() override { close(); }

private:
    struct Frame {
        std::shared_ptr<YamlNode> node;
        YAML::anchor_t anchor = 0;
        YamlNodePtr pending_key;  // a mapping's key waiting for its value
        std::unordered_map<std::string, const YamlNode*> keys;
        YAML::Mark mark;
    };

    // An alias of a deep node inside another deep node nests as deep as both: without this
    // check a chain of anchors would build a tree deep enough to overflow the stack of any
    // recursive walk (or of the shared_ptr destructors).
    void check_depth(int height, const YAML::Mark& mark) const
    {
        if (static_cast<int>(m_stack.size()) + height > k_max_yaml_depth) {
            throw StopParsing{mark, "collections nested deeper than " + std::to_string(k_max_yaml_depth) +
                                        " levels (aliases included) are not supported"};
        }
    }

    static std::shared_ptr<YamlNode> make(YamlNode::Kind kind, const YAML::Mark& mark)
    {
        auto node = std::make_shared<YamlNode>();
        node->kind = kind;
        node->line = one_based(mark.line);
        node->column = one_based(mark.column);
        return node;
    }

    void error(const YAML::Mark& mark, std::string message)
    {
        m_errors.push_back(ConfigError{m_file, one_based(mark.line), one_based(mark.column), std::move(message)});
    }

    void open(std::shared_ptr<YamlNode> node, YAML::anchor_t anchor, const YAML::Mark& mark)
    {
        check_depth(1, mark);
        node->height = 1;
        m_stack.push_back(Frame{std::move(node), anchor, nullptr, {}, mark});
    }

    void close()
    {
        Frame frame = std::move(m_stack.back());
        m_stack.pop_back();
        add(std::move(frame.node), frame.anchor);
    }

    void add(YamlNodePtr node, YAML::anchor_t anchor)
    {
        if (!m_stack.empty()) {
            check_depth(node->height, m_stack.back().mark);
            m_stack.back().node->height = std::max(m_stack.back().node->height, node->height + 1);
        }
        // Registered only once complete, so that an alias never points into an open node.
        if (anchor != 0) m_anchors[anchor] = node;
        if (m_stack.empty()) {
            m_root = std::move(node);
            return;
        }
        Frame& frame = m_stack.back();
        YamlNode& parent = *frame.node;
        if (parent.kind == YamlNode::Kind::sequence) {
            parent.items.push_back(std::move(node));
            return;
        }
        if (!frame.pending_key) {
            frame.pending_key = std::move(node);
            return;
        }
        YamlNodePtr key = std::move(frame.pending_key);
        frame.pending_key = nullptr;
        if (key->kind == YamlNode::Kind::scalar) {
            auto [it, inserted] = frame.keys.emplace(key->text, key.get());
            if (!inserted) {
                const YamlNode& first = *it->second;
                m_errors.push_back(ConfigError{m_file, key->line, key->column,
                                               "duplicate key \"" + key->text + "\" (first defined at " +
                                                   m_file.string() + ":" + std::to_string(first.line) + ":" +
                                                   std::to_string(first.column) + ")"});
                return;
            }
        }
        parent.entries.push_back(YamlEntry{std::move(key), std::move(node)});
    }

    const std::filesystem::path& m_file;
    std::vector<ConfigError>& m_errors;
    std::vector<Frame> m_stack;
    std::map<YAML::anchor_t, YamlNodePtr> m_anchors;
    YamlNodePtr m_root;
};

// Stops at the start of a second document: its presence is the error, not its content.
class SecondDocumentProbe final : public YAML::EventHandler {
public:
    void OnDocumentStart(const YAML::Mark& mark) override
    {
        throw StopParsing{mark, "a config file holds one YAML document; found a second one"};
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

// yaml-cpp's message for a tab in the indentation ("illegal map value", "end of map not found")
// does not say what is wrong; the line itself does.
bool indented_with_tab(std::string_view text, int zero_based_line)
{
    if (zero_based_line < 0) return false;
    std::size_t start = 0;
    for (int line = 0; line < zero_based_line; ++line) {
        start = text.find('\n', start);
        if (start == std::string_view::npos) return false;
        ++start;
    }
    for (std::size_t i = start; i < text.size() && (text[i] == ' ' || text[i] == '\t'); ++i) {
        if (text[i] == '\t') return true;
    }
    return false;
}

} // namespace

const YamlEntry* YamlNode::find(std::string_view key) const
{
    for (const auto& entry : entries) {
        if (entry.key->kind == Kind::scalar && entry.key->text == key) return &entry;
    }
    return nullptr;
}

std::string describe(const YamlNode& node)
{
    switch (node.kind) {
    case YamlNode::Kind::null: return "nothing";
    case YamlNode::Kind::scalar: return "\"" + node.text + "\"";
    case YamlNode::Kind::sequence: return "a sequence";
    case YamlNode::Kind::mapping: return "a mapping";
    }
    return "?";
}

YamlNodePtr parse_yaml(std::string_view text, const std::filesystem::path& file, std::vector<ConfigError>& errors)
{
    std::istringstream stream{std::string(text)};
    std::vector<ConfigError> tree_errors;
    TreeBuilder builder(file, tree_errors);
    try {
        YAML::Parser parser(stream);
        if (!parser.HandleNextDocument(builder)) {
            auto empty = std::make_shared<YamlNode>();
            return empty;
        }
        SecondDocumentProbe probe;
        parser.HandleNextDocument(probe);
    } catch (const StopParsing& stop) {
        errors.push_back(ConfigError{file, one_based(stop.mark.line), one_based(stop.mark.column), stop.message});
        return nullptr;
    } catch (const YAML::Exception& e) {
        std::string message = "YAML syntax error: " + e.msg;
        if (indented_with_tab(text, e.mark.line)) message += " (YAML does not allow tabs for indentation)";
        errors.push_back(ConfigError{file, one_based(e.mark.line), one_based(e.mark.column), std::move(message)});
        return nullptr;
    }
    errors.insert(errors.end(), tree_errors.begin(), tree_errors.end());
    YamlNodePtr root = builder.root();
    if (!root) root = std::make_shared<YamlNode>();
    return root;
}

} // namespace sandhost::config
