#!/bin/bash
# The alerting rules shipped for Prometheus (packaging/prometheus): valid rules, and each alert
# fires for what it is about, after its `for`, and not before (promtool test rules). Exit 77
# (skipped) where promtool is not installed (Debian: apt-get install prometheus).
set -euo pipefail
dir=$1
command -v promtool >/dev/null || { echo "promtool is not installed: the alerting rules are not checked"; exit 77; }
promtool check rules "$dir/sandhost-alerts.yml"
promtool test rules "$dir/sandhost-alerts.test.yml"
