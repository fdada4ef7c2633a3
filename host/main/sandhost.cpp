// sandhost: the command line and the host daemon.
#include "cli/cli.h"

int main(int argc, char** argv) { return sandhost::cli::run_cli(argc, argv); }
