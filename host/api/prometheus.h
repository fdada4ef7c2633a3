// The Prometheus text exposition format (version 0.0.4): metric families with their HELP and
// TYPE lines, samples with escaped label values. Internal to the API.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandhost::api {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
public:
    // Starts a family: `type` is counter, gauge or histogram.
    void family(std::string_view name, std::string_view type, std::string_view help);
    // One sample of the current family (name may carry a suffix: _bucket, _sum, _count).
    void sample(std::string_view name, const Labels& labels, double value);
    const std::string& str() const { return m_out; }

    // The text of a value as Prometheus reads it: integers without a fraction, +Inf.
    static std::string number(double value);

private:
    std::string m_out;
};

} // namespace sandhost::api
