#!/usr/bin/env bash
# Runs one test stage, or all of them in order: sanity units lint ee integration molecule.
# Called by `make test` after scripts/bootstrap.sh; assumes .venv exists.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH=$root/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$root/.cache/collections
export ANSIBLE_CONFIG=$root/ansible.cfg
python_version=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# The copy lives inside this git work tree, where build/ is ignored: tell
# ansible-test where the content root is, or it lists files with git and sees none.
in_copy() {
  local copy
  copy=$(scripts/sync-collection.sh)
  (cd "$copy" && env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH ANSIBLE_TEST_CONTENT_ROOT="$PWD" "$@")
}

stage_sanity() {
  in_copy ansible-test sanity --venv --python "$python_version" --color no
}

stage_units() {
  PYTHONPATH=$root/.cache/collections python -m pytest -p no:cacheprovider --import-mode=importlib -q -n 2 tests/unit
}

stage_lint() {
  ansible-lint --profile production --offline
}

stage_integration() {
  in_copy ansible-test integration --python "$python_version" --allow-destructive --allow-root --color no -v
}

stage_molecule() {
  local scenario
  for scenario in molecule/*/; do
    scenario=$(basename "$scenario")
    molecule test --scenario-name "$scenario"
  done
}

# The execution environment (docs/execution-environment.md): the build context
# the docs show how to make, then what the image would be built from. No
# container engine here, so the image itself is not built.
stage_ee() {
  rm -rf build/ee
  ansible-galaxy collection build --force --output-path build/ee .
  ansible-builder create -f ee/execution-environment.yml -c build/ee/context --output-filename Containerfile
  python -m pytest -p no:cacheprovider -q tests/ee
}

stages=("$@")
[[ ${#stages[@]} -eq 0 || ${stages[0]} == all ]] && stages=(sanity units lint ee integration molecule)
for stage in "${stages[@]}"; do
  echo "=== $stage ==="
  "stage_$stage"
done
echo "=== all requested stages passed: ${stages[*]} ==="
