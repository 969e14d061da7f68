#!/usr/bin/env bash
# Runs one test stage, or all of them in order: sanity units lint integration molecule.
# Called by `make test` after scripts/bootstrap.sh; assumes .venv exists.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH=$root/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$root/.cache/collections
export ANSIBLE_CONFIG=$root/ansible.cfg
python_version=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

stage_sanity() {
  scripts/sync-collection.sh
  (cd build/ansible_collections/mailrelay/smtp && ansible-test sanity --venv --python "$python_version" --color no)
}

stage_units() {
  PYTHONPATH=$root/.cache/collections python -m pytest -p no:cacheprovider --import-mode=importlib -q -n 2 tests/unit
}

stage_lint() {
  ansible-lint --profile production --offline
}

stage_integration() {
  scripts/sync-collection.sh
  (cd build/ansible_collections/mailrelay/smtp &&
    ansible-test integration --python "$python_version" --allow-destructive --allow-root --color no -v)
}

stage_molecule() {
  local scenario
  for scenario in molecule/*/; do
    scenario=$(basename "$scenario")
    molecule test --scenario-name "$scenario"
  done
}

stages=("$@")
[[ ${#stages[@]} -eq 0 || ${stages[0]} == all ]] && stages=(sanity units lint integration molecule)
for stage in "${stages[@]}"; do
  echo "=== $stage ==="
  "stage_$stage"
done
echo "=== all requested stages passed: ${stages[*]} ==="
