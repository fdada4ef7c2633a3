#include "worker/group_entry.h"

#include "worker/failure.h"

#include <cerrno>
#include <unistd.h>

namespace sandhost::worker {

void enter_group(std::vector<os::UniqueFd>& group_files)
{
    for (const auto& file : group_files) {
        ssize_t n;
        do {
            n = ::write(file.get(), "0", 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) fail(protocol::WorkerExit::setup_failed, "write", "0 into the attempt's control group", n < 0 ? errno : EIO);
    }
    group_files.clear();
}

} // namespace sandhost::worker
