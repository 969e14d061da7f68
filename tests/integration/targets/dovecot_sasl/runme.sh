#!/usr/bin/env bash
# shellcheck disable=SC2016  # the $ signs of password hashes are literal
# dovecot_sasl against the real Dovecot of this host, in the syntax of its version:
#  - a first run starts an instance that authenticates alice (doveadm auth test on
#    Postfix's socket), with a {SHA512-CRYPT} hash that doveadm pw -t verifies;
#  - a second run changes nothing;
#  - a {PBKDF2} hash as earlier releases wrote it still authenticates, and the next
#    run replaces it (users_rehashed), after which alice still logs in and a wrong
#    password does not;
#  - a changed password is changed; removal stops the instance and removes its files.
set -eu
set -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
conf=/etc/dovecot/mailrelay/postfix-it-sasl.conf
users=/etc/dovecot/mailrelay/postfix-it-sasl.users
socket=/run/dovecot-postfix-it-sasl/auth-postfix
report=/tmp/postfix-it-sasl.json
# Written by `doveadm pw -s PBKDF2 -p secret` (Dovecot 2.3): what earlier releases stored.
legacy='{PBKDF2}$1$YMZkrFqwt8oE0Fok$5000$d76268297a94da5ce43bc2602fd184b8f1ea0fb7'

cleanup() {
  ansible-playbook "$here/converge.yml" -e sasl_state=absent >/dev/null 2>&1 || true
  rm -f "$report"
}
trap cleanup EXIT

fail() { echo "dovecot_sasl integration: $*" >&2; exit 1; }
converge() { ansible-playbook "$here/converge.yml" "$@" >/dev/null || fail "converge $* failed"; }
reported() { python3 -c "import json, sys; print(json.dumps(json.load(open('$report'))[sys.argv[1]]))" "$1"; }
auth() { doveadm -c "$conf" auth test -a "$socket" alice@example.org "$1" >/dev/null 2>&1; }
stored() { sed -n 's/^alice@example.org://p' "$users"; }

echo "== first run"
converge
[[ $(reported changed) == true && $(reported action) == '"started"' ]] || fail "first run: $(cat "$report")"
syntax=$(reported dovecot_syntax)
case $(dovecot --version) in
  2.3.*) [[ $syntax == '"2.3"' ]] ;;
  *) [[ $syntax == '"2.4"' ]] && head -3 "$conf" | grep -q '^dovecot_config_version = ' ;;
esac || fail "syntax $syntax for Dovecot $(dovecot --version)"
doveconf -c "$conf" -n >/dev/null || fail "doveconf refuses $conf"
auth it-Secret-1 || fail "alice cannot log in"
! auth wrong || fail "a wrong password logs in"
[[ $(stored) == '{SHA512-CRYPT}$6$rounds=100000$'* ]] || fail "hash $(stored | cut -c1-30)"
doveadm pw -t "$(stored)" -p it-Secret-1 | grep -q '(verified)' || fail "doveadm pw -t does not verify the hash"
[[ $(stat -c '%a %U:%G' "$users") == '640 root:dovecot' ]] || fail "users file is $(stat -c '%a %U:%G' "$users")"

echo "== second run changes nothing"
before=$(sha256sum "$conf" "$users")
converge
[[ $(reported changed) == false ]] || fail "second run: $(cat "$report")"
[[ $(sha256sum "$conf" "$users") == "$before" ]] || fail "second run rewrote a file"

echo "== an earlier release's PBKDF2 hash is replaced on the next run"
printf 'alice@example.org:%s\n' "$legacy" >"$users"
converge -e sasl_password=secret -e sasl_rounds=5000
[[ $(reported users_rehashed) == '["alice@example.org"]' && $(reported users_changed) == '[]' ]] \
  || fail "rehash run: $(cat "$report")"
[[ $(stored) == '{SHA512-CRYPT}$6$rounds=5000$'* ]] || fail "not rehashed: $(stored | cut -c1-30)"
auth secret || fail "alice cannot log in after the rehash"
! auth Secret || fail "a wrong password logs in after the rehash"
converge -e sasl_password=secret -e sasl_rounds=5000
[[ $(reported changed) == false ]] || fail "run after the rehash: $(cat "$report")"

echo "== a new password, then removal"
converge -e sasl_password=n3w-Secret
[[ $(reported users_changed) == '["alice@example.org"]' ]] || fail "password change: $(cat "$report")"
auth n3w-Secret || fail "the new password does not log in"
! auth secret || fail "the old password still logs in"
converge -e sasl_state=absent
[[ $(reported action) == '"stopped"' && ! -e $conf && ! -e $users ]] || fail "removal: $(cat "$report")"
echo "dovecot_sasl integration: all scenarios behaved as expected"
