#!/usr/bin/env bash
# relay_audit against real Postfix servers: a closed topology must pass every
# case, each broken server must be caught by a named case, and
# playbooks/audit.yml (run by its FQCN, mailrelay.smtp.audit) must pass on the
# closed topology and fail on a broken one.
set -eu
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
# The servers need root and the system Python (stdlib only).
python=/usr/bin/python3

log=$(mktemp)
cleanup() {
  rm -f "$log"
  "$python" "$here/files/lab_servers.py" down || true
}
trap cleanup EXIT

"$python" "$here/files/lab_servers.py" up

export ANSIBLE_ROLES_PATH="$here/.."
common=(-i "$here/inventory.ini" -e "ansible_python_interpreter=$python")

# Results are long (a transcript per case): no -v for this one.
ansible-playbook "${common[@]}" "$here/audit_tests.yml"

# The shipped playbook on the closed topology: must pass.
ansible-playbook "${common[@]}" mailrelay.smtp.audit -e "@$here/vars/closed_topology.yml"

# The same playbook with one broken server among the targets: must fail.
if ansible-playbook "${common[@]}" mailrelay.smtp.audit \
    -e "@$here/vars/closed_topology.yml" -e "@$here/vars/with_broken_server.yml" \
    > "$log" 2>&1; then
  cat "$log"
  echo "playbooks/audit.yml passed although inbound-open-mynetworks is an open relay" >&2
  exit 1
fi
grep -q "127.0.3.20:25 (inbound_relay): .* failed: foreign-recipient" "$log" || {
  cat "$log"
  echo "playbooks/audit.yml failed without naming the open relay's failing case" >&2
  exit 1
}
echo "relay_audit integration: all scenarios behaved as expected"
