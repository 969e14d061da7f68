#!/usr/bin/env bash
# Shared by the postfix_config, postfix_instance and postfix_role targets.
# They own 127.0.2.0/24 and the instance names postfix-it-* (see
# docs/development.md). Source this file, call postfix_it_setup ADDRESS...,
# and it removes on exit what it added: instances, addresses, logs.
set -eu
set -o pipefail

setup_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
postfix_it_python=/usr/bin/python3
postfix_it_added_addresses=()
postfix_it_instances=()
postfix_it_files=()    # more files to delete on exit
postfix_it_pids=()     # helper processes to stop on exit

postfix_it_playbook() {
  ansible-playbook -i "$setup_dir/inventory.ini" -e "ansible_python_interpreter=$postfix_it_python" "$@"
}

postfix_it_cleanup() {
  local status=$?
  set +e
  for pid in "${postfix_it_pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  if ((${#postfix_it_instances[@]})); then
    postfix_it_playbook "$setup_dir/remove_instances.yml" \
      -e "{\"postfix_it_remove\": $(printf '%s\n' "${postfix_it_instances[@]}" | "$postfix_it_python" -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')}" \
      >/dev/null || echo "cleanup: could not remove ${postfix_it_instances[*]}" >&2
  fi
  for address in "${postfix_it_added_addresses[@]}"; do
    ip addr del "$address/32" dev lo 2>/dev/null || true
  done
  for name in "${postfix_it_instances[@]}"; do
    rm -f "/var/log/$name.log"
  done
  rm -f "${postfix_it_files[@]}"
  exit "$status"
}

# postfix_it_setup "instance names" ADDRESS...
postfix_it_setup() {
  read -r -a postfix_it_instances <<<"$1"
  shift
  trap postfix_it_cleanup EXIT
  # Leftovers of an interrupted earlier run would make "from scratch" a lie.
  postfix_it_playbook "$setup_dir/remove_instances.yml" \
    -e "{\"postfix_it_remove\": $(printf '%s\n' "${postfix_it_instances[@]}" | "$postfix_it_python" -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')}" >/dev/null
  local address
  for address in "$@"; do
    if ! ip -o -4 addr show dev lo | grep -qw "inet $address/32"; then
      ip addr add "$address/32" dev lo
      postfix_it_added_addresses+=("$address")
    fi
  done
}

# Checksums (and modes) of every file of a directory, for byte-identical checks.
postfix_it_sums() {
  (cd "$1" && find . -maxdepth 1 -type f -printf '%m %p\n' | sort && find . -maxdepth 1 -type f -print0 | sort -z | xargs -0 sha256sum)
}

# Occupy ADDRESS:PORT with a plain listener until exit (a port conflict Postfix cannot share).
postfix_it_hold() {
  "$postfix_it_python" "$setup_dir/smtp_probe.py" hold "$1" "$2" 600 &
  postfix_it_pids+=("$!")
  for _ in $(seq 50); do
    ! "$postfix_it_python" "$setup_dir/smtp_probe.py" closed "$1" "$2" >/dev/null && return 0
    sleep 0.1
  done
  echo "could not occupy $1:$2" >&2
  return 1
}

# SMTP probes with the system Python (stdlib smtplib).
postfix_it_smtp() {
  "$postfix_it_python" "$setup_dir/smtp_probe.py" "$@"
}
