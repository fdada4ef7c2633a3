#include "api/prometheus.h"

#include <charconv>
#include <cmath>

namespace sandhost::api {
namespace {

void append_escaped(std::string& out, std::string_view text, bool label_value)
{
    for (const char c : text) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else if (c == '"' && label_value) out += "\\\"";
        else out += c;
    }
}

} // namespace

std::string PrometheusText::number(double value)
{
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (std::isnan(value)) return "NaN";
    char text[32];
    const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
    return ec == std::errc() ? std::string(text, end) : std::to_string(value);
}

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help)
{
    m_out += "# HELP ";
    m_out += name;
    m_out += ' ';
    append_escaped(m_out, help, false);
    m_out += "\n# TYPE ";
    m_out += name;
    m_out += ' ';
    m_out += type;
    m_out += '\n';
}

void PrometheusText::sample(std::string_view name, const Labels& labels, double value)
{
    m_out += name;
    if (!labels.empty()) {
        m_out += '{';
        for (std::size_t i = 0; i < labels.size(); ++i) {
            if (i) m_out += ',';
            m_out += labels[i].first;
            m_out += "=\"";
            append_escaped(m_out, labels[i].second, true);
            m_out += '"';
        }
        m_out += '}';
    }
    m_out += ' ';
    m_out += number(value);
    m_out += '\n';
}

} // namespace sandhost::api
