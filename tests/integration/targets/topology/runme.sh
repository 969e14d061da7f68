#!/usr/bin/env bash
# The whole topology through playbooks/site.yml (run by its FQCN) on real
# Postfix instances postfix-topo-* on 127.0.5.0/24:
# - converge, then a second run reports changed=0;
# - a hand edit, then --check --diff reports exactly that drift and changes nothing;
# - bad descriptions fail before anything changes, naming the field;
# - the mail paths deliver and relay_audit passes on every job (roles/lab prove).
set -eu
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
inventory=(-i "$here/inventory.yml" -e "@$here/vars/lab.yml")
log=$(mktemp)
cleanup() {
  ansible-playbook "${inventory[@]}" mailrelay.smtp.demo_clean >/dev/null 2>&1 || true
  rm -f "$log"
}
trap cleanup EXIT

fail() {
  cat "$log"
  echo "topology integration: $*" >&2
  exit 1
}

recap_changed() {
  sed -n 's/^topo *: .*changed=\([0-9]*\).*/\1/p' "$log"
}

config_sums() {
  # Every file of every instance, so "nothing changed" covers maps too.
  find /etc/postfix-topo-* /etc/dovecot/mailrelay -type f -printf '%p ' -exec sha256sum {} \; 2>/dev/null | sort
}

# A lab of its own: addresses, certificate, upstream capture server.
ansible-playbook "${inventory[@]}" "$here/prepare.yml"

echo "== converge"
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "converge failed"

echo "== second run changes nothing"
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "second run failed"
[[ $(recap_changed) == 0 ]] || fail "second run reported changed=$(recap_changed)"
# A no-op is the preflight alone: every host ends the play after it, so no later task
# (packages, job roles, the converge call) is even reached.
grep -q 'TASK \[End the play for a host whose whole plan changes nothing\]' "$log" || fail "no host ended after its preflight"
if grep -q 'TASK \[Converge the Postfix instances of every job of this host in one call\]' "$log"; then
  fail "the converge task was reached on a no-op"
fi

echo "== a hand edit shows up as exactly that drift in --check --diff"
# shellcheck disable=SC2016  # $myhostname is Postfix's, not the shell's
sed -i 's/^smtpd_banner = .*/smtpd_banner = $myhostname ESMTP hand-edited/' /etc/postfix-topo-hub/main.cf
printf 'sneaky.example OK\n' >>/etc/postfix-topo-inbound-relay/relay_domains
before=$(config_sums)
ansible-playbook "${inventory[@]}" mailrelay.smtp.site --check --diff >"$log" 2>&1 || fail "check run failed"
# Only the task that converges them (and would reload the hub in the call): the preflight that
# plans every instance changes nothing and is not counted.
[[ $(recap_changed) == 1 ]] || fail "check run reported changed=$(recap_changed), expected 1"
grep -q "postfix-topo-hub: /etc/postfix-topo-hub/main.cf" "$log" || fail "the diff does not name the hub's main.cf"
grep -q "postfix-topo-inbound-relay: /etc/postfix-topo-inbound-relay/relay_domains" "$log" || fail "the diff does not name the relay's table"
# shellcheck disable=SC2016
grep -q '^-smtpd_banner = \$myhostname ESMTP hand-edited' "$log" || fail "the banner edit is not in the diff"
# shellcheck disable=SC2016
grep -q '^+smtpd_banner = \$myhostname ESMTP$' "$log" || fail "the diff does not restore the banner"
grep -q '^-sneaky.example OK' "$log" || fail "the map edit is not in the diff"
# Nothing but the edited lines differs (besides the reload the converge call announces).
[[ $(grep -E '^[-+][^-+]' "$log" | grep -vc ': running') == 3 ]] || fail "the diff shows more than the hand edits"
[[ $(config_sums) == "$before" ]] || fail "--check changed files"

echo "== a real run repairs the drift, then nothing changes"
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "repair run failed"
[[ $(recap_changed) == 1 ]] || fail "repair run reported changed=$(recap_changed), expected 1 (the converge call)"
grep -q 'hand-edited' /etc/postfix-topo-hub/main.cf && fail "the banner edit survived"
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "run after repair failed"
[[ $(recap_changed) == 0 ]] || fail "run after repair reported changed=$(recap_changed)"

echo "== bad descriptions fail before anything changes"
before=$(config_sums)
bad_dir=$(mktemp -d)
# ansible-test's Python has PyYAML: it runs Ansible.
"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" "$here/files/break_description.py" \
  "$here/vars/lab.yml" "$here/bad_descriptions.yml" "$bad_dir" >"$bad_dir/cases" || fail "cannot write the bad descriptions"
[[ -s $bad_dir/cases ]] || fail "no bad descriptions"
while IFS=$'\t' read -r name expected; do
  if ansible-playbook "${inventory[@]}" -e "@$bad_dir/$name.json" mailrelay.smtp.site >"$log" 2>&1; then
    fail "$name: site.yml succeeded"
  fi
  grep -qF -- "$expected" "$log" || fail "$name: no message '$expected'"
  grep -q 'Check the topology description' "$log" || fail "$name: did not fail at the check"
  ! grep -q 'Converge the Postfix instances' "$log" || fail "$name: reached the instances"
  [[ $(config_sums) == "$before" ]] || fail "$name: files changed"
  echo "   $name: $expected"
done <"$bad_dir/cases"
rm -rf "$bad_dir"

echo "== a change one host refuses, with a password change: nothing changes anywhere"
# The hub moves to an address that is valid but not configured on the host, and a
# user's password changes: the preflight refuses before any file (Dovecot's users too) changes.
before=$(config_sums)
refused_vars=$(mktemp --suffix=.json)
"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" - "$here/vars/lab.yml" "$refused_vars" <<'PY'
import json, sys, yaml
variables = yaml.safe_load(open(sys.argv[1]))
topology = variables['mailrelay_topology']
topology['hub']['servers'][0]['address'] = '127.0.5.19'
topology['submission']['users'][0]['password'] = 'topo-Pa55-changed'
json.dump(variables, open(sys.argv[2], 'w'))
PY
if ansible-playbook "${inventory[@]}" -e "@$refused_vars" mailrelay.smtp.site >"$log" 2>&1; then
  fail "site.yml succeeded with an unconfigured hub address"
fi
rm -f "$refused_vars"
grep -q 'Check and plan the Postfix instances of every host before any host changes' "$log" || fail "the preflight did not run"
grep -q 'main_cf.inet_interfaces: address 127.0.5.19 is not assigned to a local interface' "$log" || fail "no message about the hub address"
# The users travel with the instances: the converge call never ran on any host.
! grep -q 'TASK \[mailrelay.smtp.postfix : Converge the Postfix instances\]' "$log" || fail "a host converged"
[[ $(config_sums) == "$before" ]] || fail "files changed although a host refused the change"

echo "== mail paths and relay audit"
ansible-playbook "${inventory[@]}" "$here/prove.yml" >"$log" 2>&1 || fail "proof failed"
grep -q '0 failed' "$log" || fail "no audit summary"

echo "== edge hygiene: local destinations, recipients, subdomains, notices, 465, AUTH limit, postscreen"
# Real SMTP sessions against the instances deployed above (files/edge_checks.py says which).
"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" "$here/files/edge_checks.py" \
  --submission 127.0.5.11 --relay 127.0.5.12 --relay-instance postfix-topo-inbound-relay --hub 127.0.5.13 \
  --probe 127.0.5.30 --brute-force-source 127.0.5.31 --pregreet-source 127.0.5.32 --good-source 127.0.5.33 \
  --series-source 127.0.5.34 \
  --domain example.org --user alice@example.org --password topo-Pa55-1 --mailbox bob@example.org \
  --maildir-root /var/mail/mailrelay/postfix-topo-hub --upstream-dir /var/lib/mailrelay-topo-it/upstream \
  --client-cert /etc/mailrelay-topo-it/tls/lab.pem --client-key /etc/mailrelay-topo-it/tls/private/lab.key \
  >"$log" 2>&1 || fail "edge checks failed"
cat "$log"

echo "== a job removed from the description retires its instance in the one converge call"
record=/var/lib/mailrelay/site-topo.json
grep -q postfix-topo-inbound-relay "$record" || fail "the record does not list the inbound relay: $(cat "$record")"
retired_vars=$(mktemp --suffix=.json)
"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" - "$here/vars/lab.yml" "$retired_vars" <<'PY'
import json, sys, yaml
variables = yaml.safe_load(open(sys.argv[1]))
del variables['mailrelay_topology']['inbound_relay']
json.dump(variables, open(sys.argv[2], 'w'))
PY
ansible-playbook "${inventory[@]}" -e "@$retired_vars" mailrelay.smtp.site >"$log" 2>&1 || fail "the run without the inbound relay failed"
postmulti -l | grep -q postfix-topo-inbound-relay && fail "the inbound relay's instance is still there"
grep -q postfix-topo-inbound-relay "$record" && fail "the record still lists the inbound relay"
ansible-playbook "${inventory[@]}" -e "@$retired_vars" mailrelay.smtp.site >"$log" 2>&1 || fail "the re-run without the inbound relay failed"
[[ $(recap_changed) == 0 ]] || fail "the re-run after the retirement reported changed=$(recap_changed)"
rm -f "$retired_vars"
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "the run that brings the inbound relay back failed"
postmulti -l | grep -q postfix-topo-inbound-relay || fail "the inbound relay did not come back"

echo "topology integration: all scenarios behaved as expected"
