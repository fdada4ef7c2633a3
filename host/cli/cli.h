// The `sandhost` command line: one function per subcommand behind a dispatcher.
#pragma once

#include <string>
#include <vector>

namespace sandhost::cli {

// Exit statuses shared by every subcommand.
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failed = 1;   // the command ran; what it reports did not succeed
inline constexpr int k_exit_usage = 2;    // bad arguments or an invalid config

// Runs `sandhost ARGS...` and returns the exit status. Writes to stdout and stderr.
int run_cli(int argc, char** argv);

int exec_command(const std::vector<std::string>& args);
int plugins_command(const std::vector<std::string>& args);
int validate_command(const std::vector<std::string>& args);
int run_command(const std::vector<std::string>& args);
int enqueue_command(const std::vector<std::string>& args);
int jobs_command(const std::vector<std::string>& args);
int job_command(const std::vector<std::string>& args);
int queues_command(const std::vector<std::string>& args);
int pause_command(const std::vector<std::string>& args);
int resume_command(const std::vector<std::string>& args);
int wait_command(const std::vector<std::string>& args);
int purge_command(const std::vector<std::string>& args);
int hosts_command(const std::vector<std::string>& args);
int copy_command(const std::vector<std::string>& args);
int schedules_command(const std::vector<std::string>& args);
int serve_command(const std::vector<std::string>& args);
int backup_command(const std::vector<std::string>& args);
int compact_command(const std::vector<std::string>& args);
int restore_command(const std::vector<std::string>& args);

} // namespace sandhost::cli
