#!/usr/bin/env bash
# recipient_validation: verify with real Postfix (postfix-verify-* on 127.0.9.0/24): the inbound
# relay asks the Postfix hub at RCPT time whether a recipient exists. A known mailbox is accepted,
# an unknown one refused 5xx at RCPT, and while the hub is down the relay answers 4xx (never
# accepts what it would bounce later); no non-delivery notice is produced anywhere.
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
  echo "recipient_verify integration: $*" >&2
  exit 1
}

ansible-playbook "${inventory[@]}" "$here/prepare.yml" >"$log" 2>&1 || fail "prepare failed"

echo "== converge with recipient_validation: verify"
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "converge failed"

echo "== verify at RCPT time"
"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" "$here/files/verify_checks.py" \
  --relay 127.0.9.12 --relay-instance postfix-verify-inbound-relay --hub-instance postfix-verify-hub \
  --probe 127.0.9.30 --domain example.org --mailbox alice@example.org --second-mailbox bob@example.org \
  --maildir-root /var/mail/mailrelay/postfix-verify-hub --upstream-dir /var/lib/mailrelay-verify-it/upstream \
  >"$log" 2>&1 || fail "verify checks failed"
cat "$log"

echo "recipient_verify integration: all scenarios behaved as expected"
