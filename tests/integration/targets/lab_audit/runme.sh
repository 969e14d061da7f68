#!/usr/bin/env bash
# The README's audit exactly as the README shows it, on the README's own lab:
# - the lab as `make demo` deploys it (inventories/lab, postfix-lab-* on 127.0.1.0/24);
# - `ansible-playbook -i inventories/lab mailrelay.smtp.audit` passes with no extra option
#   (TLS verified against the CA the description names), and leaves a JUnit report when asked,
#   which shows the AUTH brute-force series passed on both submission ports;
# - with -vvv, no password, hash or other secret of the description appears in the output;
# - under --check it fails, saying that nothing was audited;
# - `make demo-clean`'s playbook then removes the lab, whatever the audit left queued.
set -eu
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
# The README's commands run from the collection's root: the one ansible-test installed
# (ANSIBLE_COLLECTIONS_PATH), or the checkout this target lies in.
root=
IFS=: read -ra collection_paths <<<"${ANSIBLE_COLLECTIONS_PATH:-}"
for candidate in "${collection_paths[@]/%//ansible_collections/mailrelay/smtp}" "$here/../../../.."; do
  if [[ -f $candidate/inventories/lab/hosts.yml && -f $candidate/playbooks/demo.yml ]]; then
    root=$(cd "$candidate" && pwd)
    break
  fi
done
[[ -n $root ]] || { echo "lab_audit: cannot find the collection's inventories/lab" >&2; exit 1; }
cd "$root"

log=$(mktemp)
junit=$(mktemp -d)
cleanup() {
  ansible-playbook -i inventories/lab playbooks/demo_clean.yml >/dev/null 2>&1 || true
  rm -rf "$log" "$junit"
}
trap cleanup EXIT

fail() {
  cat "$log"
  echo "lab_audit: $*" >&2
  exit 1
}

echo "== make demo (its playbook)"
ansible-playbook -i inventories/lab playbooks/demo.yml >"$log" 2>&1 || fail "make demo failed"

echo "== the README's audit command"
ansible-playbook -i inventories/lab mailrelay.smtp.audit >"$log" 2>&1 || fail "the README's audit failed"
grep -q 'All 4 server(s) passed the relay audit' "$log" || fail "no verdict"
for target in '127.0.1.11:587 (submission)' '127.0.1.11:465 (submission)' '127.0.1.12:25 (inbound_relay)' '127.0.1.13:25 (hub)'; do
  grep -qF "$target: " "$log" || fail "no summary line for $target"
done
grep -q ' 0 failed, 0 inconclusive' "$log" || fail "cases failed or were inconclusive"
! grep -q 'NOT verified' "$log" || fail "the lab names its CA, yet certificates were not verified"

echo "== -vvv shows no secret, and the JUnit report holds none either"
ansible-playbook -i inventories/lab mailrelay.smtp.audit -vvv -e "relay_audit_junit=$junit/audit.xml" >"$log" 2>&1 \
  || fail "the audit with -vvv failed"
grep -qF '127.0.1.11:587 (submission): ' "$log" || fail "no summary line with -vvv"
mapfile -t secrets < <("${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" "$here/files/secrets.py" \
  inventories/lab/group_vars/all/topology.yml '/etc/dovecot/mailrelay/*.users')
[[ ${#secrets[@]} -ge 3 ]] || fail "found no secrets to look for"
for secret in "${secrets[@]}"; do
  ! grep -qF -- "$secret" "$log" || fail "a secret of the description is in the -vvv output"
  ! grep -qF -- "$secret" "$junit/audit.xml" || fail "a secret of the description is in the JUnit report"
done
[[ $(grep -c '<testsuite ' "$junit/audit.xml") == 4 ]] || fail "the JUnit report does not hold one suite per server"
# The AUTH brute-force series ran on both ports of the submission server (the description's limit: 30 a
# minute) and auth-over-rate passed on each.
rate_series=$("${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" "$here/files/rate_series.py" "$junit/audit.xml")
[[ $rate_series == $'127.0.1.11:587_(submission) 30 pass\n127.0.1.11:465_(submission) 30 pass' ]] \
  || fail "the AUTH rate limit was not proven on both submission ports: $rate_series"
echo "   ${#secrets[@]} secret forms looked for, none found"

echo "== without a CA the audit says once that certificates were not verified"
ansible-playbook -i inventories/lab mailrelay.smtp.audit -e '{"relay_audit_targets": [{"host": "127.0.1.11",
  "port": 587, "role": "submission", "own_domains": ["example.org"], "tls_verify": false,
  "cases": {"include": ["starttls-offered"]}}]}' >"$log" 2>&1 || fail "the unverified audit failed"
[[ $(grep -c 'TLS certificates were NOT verified for:' "$log") == 1 ]] || fail "the audit did not say once that certificates were not verified"
grep -qF '127.0.1.11:587 (submission).' "$log" || fail "the note does not name the unverified server"

echo "== --check fails saying nothing was audited"
if ansible-playbook -i inventories/lab mailrelay.smtp.audit --check >"$log" 2>&1; then
  fail "the audit passed under --check"
fi
grep -q 'Nothing was audited' "$log" || fail "--check failed without saying that nothing was audited"

echo "== make demo-clean (its playbook) removes the lab whatever its queues hold"
# Mail the hub cannot have delivered yet: dropped while the hub is stopped.
postmulti -i postfix-lab-hub -p stop
printf 'Subject: left in the queue\n\nkept back\n' \
  | postmulti -i postfix-lab-hub -x sendmail -f postmaster@example.org someone@example.com
hub_queue=$(postmulti -i postfix-lab-hub -x postconf -h queue_directory)
[[ $(find "$hub_queue/maildrop" -type f | wc -l) -ge 1 ]] || fail "could not leave mail in the hub's queue"
ansible-playbook -i inventories/lab playbooks/demo_clean.yml >"$log" 2>&1 || fail "demo-clean failed"
! postmulti -l -a 2>/dev/null | grep -q 'postfix-lab-' || fail "a lab instance is left"

echo "lab_audit integration: all scenarios behaved as expected"
