#!/usr/bin/env bash
# `make benchmark`: every performance goal, measured (never in a timed test).
# Run as root on this machine kind; each script prints its numbers and exits
# non-zero when its goal is missed.
set -u
cd "$(dirname "$0")/.." || exit 1
export PATH=$PWD/.venv/bin:$PATH
status=0
run() {
  echo "=== $*"
  "$@" || status=1
}
# Issue 2: a no-op postfix_config run within 1.5x of one `command: true` task.
run python benchmarks/postfix_config_noop.py
# Issue 4: the whole topology's re-run within 2x of one no-op task per instance,
# and 1,000 own domains adding at most 20%.
run python benchmarks/topology_rerun.py
# Issue 5: IIS resources cost one read and at most one apply at any size.
run env PYTHONPATH=.cache/collections python benchmarks/iis_smtp_scale.py
# Issue 16: deriving every host's jobs of a 2,000-server description within 2 s, linearly.
run env PYTHONPATH=.cache/collections python benchmarks/topology_derive.py
exit $status
