#!/usr/bin/env bash
# ansible-test imports the collection as ansible_collections.mailrelay.smtp and
# refuses a symlink, so it runs in a synced copy: build/ by default, or the
# directory given as $1 (so parallel runs do not share one copy).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-build}/ansible_collections/mailrelay/smtp
mkdir -p "$dest"
rsync -a --delete \
  --exclude /.venv --exclude '/build*' --exclude /.git --exclude /.cache \
  --exclude '__pycache__' --exclude .pytest_cache --exclude .hypothesis \
  --exclude /tests/output --exclude '/*.tar.gz' --exclude /benchmarks/results \
  ./ "$dest/"
echo "$dest"
