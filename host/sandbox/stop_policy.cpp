#include "sandbox/stop_policy.h"

namespace sandhost::sandbox {

std::vector<StopStep> stop_steps(const StopReason& reason, model::Duration grace)
{
    using Action = StopStep::Action;
    switch (reason.kind) {
    case StopReason::Kind::startup_timeout:
    case StopReason::Kind::timeout:
    case StopReason::Kind::shutdown:
        return {{Action::request_cancel, model::Duration(0)}, {Action::terminate, grace}, {Action::kill, model::Duration(0)}};
    case StopReason::Kind::cancel:
        return {{Action::request_cancel, grace}, {Action::terminate, grace}, {Action::kill, model::Duration(0)}};
    case StopReason::Kind::limit:
    case StopReason::Kind::protocol_error:
    case StopReason::Kind::result_too_large:
        return {{Action::kill, model::Duration(0)}};
    }
    return {{Action::kill, model::Duration(0)}};
}

} // namespace sandhost::sandbox
