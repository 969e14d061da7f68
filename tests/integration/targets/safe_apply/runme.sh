#!/usr/bin/env bash
# Safe apply on real Postfix: each fault below is refused or rolled back, the
# configuration directories stay byte-identical and the previous listener
# still greets. Owns 127.0.8.0/24 and the instances postfix-sa-*.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../setup_postfix_it/files/lib.sh"
set -x
cd "$here" || exit 1

dir=/tmp/mailrelay-safe-apply
out=$dir/out
postfix_it_setup "postfix-sa-a postfix-sa-b" 127.0.8.11 127.0.8.12
postfix_it_files+=("$out")
safe_apply_cleanup() {
  local status=$?
  rm -rf "$dir"
  # Hand the status on to postfix_it_cleanup (it removes instances and stops helpers) without errexit.
  set +e
  sasl_stop
  (exit "$status")
  postfix_it_cleanup
}
trap safe_apply_cleanup EXIT
sasl_conf=/etc/dovecot/mailrelay/postfix-sa-s.conf
sasl_users=/etc/dovecot/mailrelay/postfix-sa-s.users
sasl_socket=/run/dovecot-postfix-sa-s/auth-postfix
sasl_stop() {  # the Dovecot instance of the SASL cases, if one was started
  if [ -f "$sasl_conf" ]; then doveadm -c "$sasl_conf" stop >/dev/null 2>&1 || true; fi
  rm -f "$sasl_conf" "$sasl_users"
}
sasl_stop
rm -rf "$dir" && mkdir -p "$dir"

# Certificates: a good pair, another key, an expired certificate, a key behind a passphrase, no key at all.
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=a.sa.test -days 30 -keyout "$dir/good.key" -out "$dir/good.crt" 2>/dev/null
openssl genrsa -out "$dir/other.key" 2048 2>/dev/null
# Expired: OpenSSL 3.4+ (Debian 13) takes explicit dates and refuses a negative -days; 3.0 (Debian 12) the opposite.
openssl req -x509 -key "$dir/good.key" -subj /CN=a.sa.test -not_before 20200101000000Z -not_after 20200102000000Z \
  -out "$dir/expired.crt" 2>/dev/null ||
  openssl x509 -in "$dir/good.crt" -signkey "$dir/good.key" -days -1 -out "$dir/expired.crt" 2>/dev/null
! openssl x509 -in "$dir/expired.crt" -noout -checkend 0 >/dev/null || { echo "safe_apply: could not make an expired certificate" >&2; exit 1; }
openssl rsa -in "$dir/good.key" -aes256 -passout pass:secret -out "$dir/locked.key" 2>/dev/null
echo 'not a key' >"$dir/garbage.key"

converge() { postfix_it_playbook converge.yml "$@"; }
sums() { postfix_it_sums /etc/postfix-sa-a; postfix_it_sums /etc/postfix-sa-b; }
greets() {  # greets ADDRESS PORT: the instance's own banner answers there
  postfix_it_smtp banner "$1" "$2" | grep -q "^220 .* ESMTP postfix-sa-"
}
# The failure message, for the log: YAML output under the project's ansible.cfg, JSON under ansible-test's.
show_message() { grep -m1 -E -A4 '^ *msg:|"msg": ' "$out" || true; }
# refused EXPECTED-TEXT ARGS...: the run fails with the text, nothing changed, both instances greet.
refused() {
  local expected=$1
  shift
  if converge "$@" >"$out" 2>&1; then
    cat "$out"
    echo "expected a failure: $*" >&2
    exit 1
  fi
  grep -q -- "$expected" "$out" || { cat "$out"; echo "missing: $expected" >&2; exit 1; }
  show_message
  sums >"$dir/after"
  diff "$dir/before" "$dir/after"
  greets 127.0.8.11 25
  greets 127.0.8.12 25
}

converge -e sa_both=true
converge -e sa_both=true | tee "$out"
grep -q 'changed=0' "$out"
greets 127.0.8.11 25
greets 127.0.8.12 25
sums >"$dir/before"

# Checks before anything changes: certificate/key mismatch, expired certificate,
# a key Postfix cannot read (passphrase, not a key).
refused 'main_cf.smtpd_tls_cert_file / main_cf.smtpd_tls_key_file: the key .*other.key does not match' -e sa_key=$dir/other.key
refused 'main_cf.smtpd_tls_cert_file: certificate .*expired.crt expired on' -e sa_cert=$dir/expired.crt
refused 'is protected by a passphrase' -e sa_key=$dir/locked.key
refused 'cannot load the certificate' -e sa_key=$dir/garbage.key
# A change refused on one instance while the other changes too: neither is touched.
# shellcheck disable=SC2016  # $myhostname is Postfix's, not the shell's
refused 'postfix-sa-b' -e sa_both=true -e sa_name=postfix-sa-b -e sa_key=$dir/other.key \
  -e '{"sa_other_main_cf": {"smtpd_banner": "$myhostname ESMTP $multi_instance_name changed"}}'

# A port another process holds: refused before anything changes (module run).
postfix_it_hold 127.0.8.11 2525
refused '127.0.8.11:2525 is in use by another process' -e sa_port=2525 -e sa_state=reloaded

# The same through the role's handler: the port is taken after the commit,
# before the reload; the handler puts the previous files back.
if postfix_it_playbook handler.yml >"$out" 2>&1; then cat "$out"; exit 1; fi
kill "$(cat "$dir/hold.pid")" || true
grep -q '127.0.8.11:2526 is in use by another process' "$out" || { cat "$out"; exit 1; }
grep -q 'Rolled back: put back' "$out" || { cat "$out"; exit 1; }
sums >"$dir/after"
diff "$dir/before" "$dir/after"
greets 127.0.8.11 25

# A changed port: the new one serves, the old one stops listening; then back.
converge -e sa_port=2527 -e sa_state=reloaded
greets 127.0.8.11 2527
postfix_it_smtp closed 127.0.8.11 25
converge -e sa_state=reloaded -e '{"sa_drop_ports": [2527]}'
greets 127.0.8.11 25
postfix_it_smtp closed 127.0.8.11 2527
sums >"$dir/before"

# Lookup-table drift, found by content: a .db replaced behind its unchanged
# source (it accepted a foreign domain) and a deleted .db are rebuilt, the
# instance is reloaded (and proven to serve), and the run reports a change.
printf 'foreign.test discard:\n' >"$dir/foreign" && postmap "hash:$dir/foreign"
cp "$dir/foreign.db" /etc/postfix-sa-a/transport.db
touch -d '1 hour ago' /etc/postfix-sa-a/transport.db   # older than its source: the timestamp says nothing
converge -e sa_state=reloaded | tee "$out"
grep -q 'changed=1' "$out"
[ "$(postmap -q sa.test hash:/etc/postfix-sa-a/transport)" = "discard:" ]
! postmap -q foreign.test hash:/etc/postfix-sa-a/transport
rm /etc/postfix-sa-a/transport.db
converge | tee "$out"
grep -q 'changed=1' "$out"
[ "$(postmap -q sa.test hash:/etc/postfix-sa-a/transport)" = "discard:" ]
converge -e sa_state=reloaded | tee "$out"   # the pending reload (reload_needed) happens here
converge | tee "$out"
grep -q 'changed=0' "$out"
greets 127.0.8.11 25
sums >"$dir/before"

# A rollback that itself fails is reported as such: the previous files kept
# for the rollback are made unusable (an address no interface has).
# shellcheck disable=SC2016  # $myhostname is Postfix's, not the shell's
v2='{"sa_main_cf": {"smtpd_banner": "$myhostname ESMTP $multi_instance_name v2"}}'
converge -e sa_port=2528 -e "$v2" | tee "$out"
grep -q 'changed=1' "$out"
previous=/etc/postfix-sa-a/.mailrelay-previous
kept_main=$previous/$(/usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["/etc/postfix-sa-a/main.cf"])' "$previous/manifest.json")
sed -i 's/^inet_interfaces = .*/inet_interfaces = 127.0.8.99/' "$kept_main"
postfix_it_hold 127.0.8.11 2528
if converge -e sa_port=2528 -e "$v2" -e sa_state=reloaded >"$out" 2>&1; then cat "$out"; exit 1; fi
grep -q 'ROLLBACK FAILED - postfix-sa-a IS NOT SERVING' "$out" || { cat "$out"; exit 1; }
grep -q '127.0.8.11:2528 is in use by another process' "$out" || { cat "$out"; exit 1; }
show_message
# Repair by hand, as the message asks, so that the clean-up can stop and remove it.
sed -i 's/^inet_interfaces = .*/inet_interfaces = 127.0.8.11/' /etc/postfix-sa-a/main.cf

# A job removed from the description retires its instance: refused while mail is
# queued (the instance keeps serving), removed with queued=drop, and an instance
# with an empty queue is simply removed.
# To a closed port of a loopback address: deferred, never bounced, so it stays queued (an unknown domain
# can bounce within a second, as on Debian 13).
postfix_it_smtp send 127.0.8.12 25 sender@sa.test 'someone@[127.0.8.99]'
for _ in $(seq 50); do
  [ -n "$(find /var/spool/postfix-sa-b/deferred /var/spool/postfix-sa-b/active /var/spool/postfix-sa-b/incoming -type f 2>/dev/null)" ] && break
  sleep 0.1
done
if postfix_it_playbook retire.yml -e sa_name=postfix-sa-b >"$out" 2>&1; then cat "$out"; exit 1; fi
grep -q 'queued file(s) under /var/spool/postfix-sa-b; it was not stopped or removed' "$out" || { cat "$out"; exit 1; }
greets 127.0.8.12 25
postfix_it_playbook retire.yml -e sa_name=postfix-sa-b -e sa_queued=drop
! postmulti -l | grep -q postfix-sa-b
postfix_it_smtp closed 127.0.8.12 25
postfix_it_playbook retire.yml -e sa_name=postfix-sa-a | tee "$out"
grep -q 'changed=1' "$out"
! postmulti -l | grep -q postfix-sa-a

# Smart-host credentials removed from the hub's settings: the parameters that
# existed for them go with their table, and the hub keeps serving.
postfix_it_setup_more() { ip addr add 127.0.8.13/32 dev lo && postfix_it_added_addresses+=(127.0.8.13); }
postfix_it_setup_more
postfix_it_instances+=(postfix-sa-hub)
postfix_it_playbook hub.yml
grep -q '^smtp_sasl_password_maps = hash:/etc/postfix-sa-hub/sasl_passwd' /etc/postfix-sa-hub/main.cf
postfix_it_playbook hub.yml -e sa_credentials=false | tee "$out"
! grep -q '^smtp_sasl_password_maps' /etc/postfix-sa-hub/main.cf
[ ! -e /etc/postfix-sa-hub/sasl_passwd ] && [ ! -e /etc/postfix-sa-hub/sasl_passwd.db ]
postfix_it_smtp banner 127.0.8.13 25 | grep -q '^220 hub.sa.test ESMTP'
postfix_it_playbook hub.yml -e sa_credentials=false | tee "$out"
grep -q 'changed=0' "$out"
# A network as relay client: refused unless hub_relay_networks is true.
if postfix_it_playbook hub.yml -e sa_credentials=false -e sa_relay_client=0.0.0.0/0 >"$out" 2>&1; then cat "$out"; exit 1; fi
grep -q 'hub_relay_clients\[0\].address: 0.0.0.0/0 is a network; only the address of one host is allowed here' "$out" || { cat "$out"; exit 1; }

# One transaction per host (issue 11): a submission-like instance and its Dovecot
# users in one postfix_instances call. A password change that comes with a refused
# change, or with a change whose health check fails (smtpd's Dovecot socket absent,
# or a socket file nobody answers on), leaves the passwd-file byte-identical and
# the old password working; the Postfix files are put back too.
ip addr add 127.0.8.15/32 dev lo && postfix_it_added_addresses+=(127.0.8.15)
postfix_it_instances+=(postfix-sa-s)
sasl() { postfix_it_playbook sasl.yml "$@"; }
authenticates() { doveadm -c "$sasl_conf" auth test -a "$sasl_socket" alice@sa.test "$1" >/dev/null 2>&1; }
sasl_sums() { postfix_it_sums /etc/postfix-sa-s; sha256sum "$sasl_users" "$sasl_conf"; stat -c '%a %U:%G' "$sasl_users"; }
sasl_serves() {  # sasl_serves PASSWORD: that password (only) authenticates and the instance greets
  authenticates "$1"
  ! authenticates "Sa-wrong-0"
  postfix_it_smtp banner 127.0.8.15 25 | grep -q '^220 s.sa.test ESMTP'
}
# sasl_refused EXPECTED-TEXT ARGS...: the run fails with the text; files as before; the first password works.
sasl_refused() {
  local expected=$1
  shift
  if sasl "$@" >"$out" 2>&1; then cat "$out"; echo "expected a failure: $*" >&2; exit 1; fi
  grep -q -- "$expected" "$out" || { cat "$out"; echo "missing: $expected" >&2; exit 1; }
  show_message
  sasl_sums >"$dir/sasl-after"
  diff "$dir/sasl-before" "$dir/sasl-after"
  sasl_serves Sa-first-1
  ! authenticates Sa-second-2
}
sasl | tee "$out"
grep -q 'changed=1' "$out"
sasl | tee "$out"
grep -q 'changed=0' "$out"
sasl_serves Sa-first-1
sasl_sums >"$dir/sasl-before"
# Refused before anything changes (the key does not match the certificate).
sasl_refused 'does not match' -e sa_password=Sa-second-2 -e sa_key="$dir/other.key"
# Committed, then the health check finds no Dovecot where smtpd asks: rolled back, users too.
sasl_refused "the Dovecot authentication service at /run/mailrelay-sa-nowhere/auth does not answer" \
  -e sa_password=Sa-second-2 -e sa_sasl_path=/run/mailrelay-sa-nowhere/auth
grep -q 'dovecot-postfix-sa-s (put back /etc/dovecot/mailrelay/postfix-sa-s.users' "$out" || { cat "$out"; exit 1; }
# A socket file that nobody answers on (a Dovecot that died and left its socket).
/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$dir/stale-auth"
sasl_refused "$dir/stale-auth does not answer: Connection refused" -e sa_password=Sa-second-2 -e sa_sasl_path="$dir/stale-auth"
# The password change alone goes live.
sasl -e sa_password=Sa-second-2 | tee "$out"
grep -q 'changed=1' "$out"
sasl_serves Sa-second-2
! authenticates Sa-first-1
