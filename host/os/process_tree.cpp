#include "os/process_tree.h"

#include "os/proc.h"

#include <csignal>
#include <unordered_set>
#include <vector>

namespace sandhost::os {

int kill_tree(pid_t root, IncludeRoot include_root)
{
    // Freeze first: a process stopped by SIGSTOP cannot fork, so after a round that finds no
    // new descendant the set is complete. Root is frozen too so it cannot spawn more children.
    if (include_root == IncludeRoot::yes) ::kill(root, SIGSTOP);
    std::unordered_set<pid_t> frozen;
    constexpr int k_max_rounds = 64;
    for (int round = 0; round < k_max_rounds; ++round) {
        bool grew = false;
        for (pid_t pid : descendants_of(root)) {
            if (frozen.insert(pid).second) {
                ::kill(pid, SIGSTOP);
                grew = true;
            }
        }
        if (!grew) break;
    }
    for (pid_t pid : frozen) ::kill(pid, SIGKILL);
    if (include_root == IncludeRoot::yes) ::kill(root, SIGKILL);
    return static_cast<int>(frozen.size()) + (include_root == IncludeRoot::yes ? 1 : 0);
}

} // namespace sandhost::os
