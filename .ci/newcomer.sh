#!/usr/bin/env bash
# Runs inside a brand-new root (see .ci/run): the README's commands, exactly as it shows them,
# in the order a newcomer runs them, with the duration of each step.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
log_dir=$(mktemp -d)
durations=()

step() {  # step NAME COMMAND: run COMMAND with bash as the README shows it, keep its output
  local name=$1 command=$2 start=$SECONDS rc
  echo "--- newcomer: $name: $command"
  bash -c "$command" 2>&1 | tee "$log_dir/$name.log"
  rc=${PIPESTATUS[0]}
  durations+=("$(printf '%-14s %5d s  rc=%d' "$name" $((SECONDS - start)) "$rc")")
  if ((rc != 0)); then
    report
    echo "newcomer: step '$name' failed (rc=$rc)" >&2
    exit 1
  fi
}

report() {
  echo "--- newcomer: durations ($(grep -m1 PRETTY_NAME /etc/os-release | cut -d\" -f2))"
  printf '  %s\n' "${durations[@]}"
}

# The re-run must change nothing: every host of its PLAY RECAP reports changed=0.
recap_changed() {
  awk '/^PLAY RECAP/{recap=1; next} recap && /changed=/{print}' "$log_dir/$1.log" | grep -v 'changed=0' || true
}

step test 'make test'
step demo 'make demo'
step demo-again 'make demo'
if [[ -n $(recap_changed demo-again) ]]; then
  report
  echo "newcomer: the second 'make demo' changed something:" >&2
  recap_changed demo-again >&2
  exit 1
fi
step audit 'source .venv/bin/activate && ansible-playbook -i inventories/lab mailrelay.smtp.audit'
# Not a README command: a host's first deployment installs what its jobs need. `make demo`'s
# bootstrap installed Dovecot for the lab; without it, site.yml installs it before the preflight
# checks the submission server again, and the lab still serves (the audit after it).
step first-deploy "apt-get -o DPkg::Lock::Timeout=600 remove -y dovecot-core >/dev/null \
  && source .venv/bin/activate && ansible-playbook -i inventories/lab mailrelay.smtp.site \
  && dpkg-query --show --showformat='\${db:Status-Abbrev}' dovecot-core | grep '^ii' \
  && ansible-playbook -i inventories/lab mailrelay.smtp.audit"
# docs/dns.md's check, as written, against the lab DNS that `make demo` left running.
step dns-check "source .venv/bin/activate && ansible-playbook -i inventories/lab mailrelay.smtp.dns_check -e '{\"mailrelay_dns_nameservers\": [\"127.0.1.53\"]}'"
step demo-clean 'make demo-clean'
# The multi-host publishing lab (docs/publishing.md) on the Debian 12 leg: it builds network
# namespace hosts, deploys over SSH twice (the second must change nothing) and proves from "the Internet".
if grep -qx 'VERSION_ID="12"' /etc/os-release; then
  step demo-publishing 'make demo-publishing'
  step demo-pub-clean 'make demo-clean'
fi
report
echo "newcomer: every step passed"
