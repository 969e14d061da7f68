#!/usr/bin/env bash
# DKIM signing and the DNS records of a topology, end to end, on real Postfix instances
# postfix-dns-* (127.0.7.0/24) with Debian's OpenDKIM and dnsmasq:
# - site.yml with `dkim` generates the keys on the host (0600) and signs through the milter; re-run changed=0;
# - mailrelay.smtp.dns_records writes the records; dnsmasq serves them on 127.0.7.53;
# - mailrelay.smtp.dns_check passes against it, and reports exactly the one record served wrong;
# - mail from a submission user and from the hub itself leaves with RSA and Ed25519 signatures that
#   dkimpy verifies against the lab DNS; a tampered body fails; the Internet's mail is not signed;
# - SPF (pyspf) passes for the hub's address;
# - rotation: a second selector is published while the first still signs, then signs; both verify;
#   removing the first removes its keys and its records.
set -eu
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
# The collection ansible-test installed (its copy of the target lies elsewhere), or this checkout.
collection=$here/../../../..
IFS=: read -ra collection_paths <<<"${ANSIBLE_COLLECTIONS_PATH:-}"
for path in "${collection_paths[@]}"; do
  if [[ -f ${path%/}/ansible_collections/mailrelay/smtp/roles/lab/files/lab_dns.py ]]; then
    collection=${path%/}/ansible_collections/mailrelay/smtp
    break
  fi
done
collection=$(cd "$collection" && pwd)
work=$(mktemp -d)
inventory=(-i "$here/inventory.yml" -e "@$work/lab.yml")
# The Python that runs Ansible here (the project's venv) has dnspython, dkimpy and pyspf;
# ansible-test's target interpreter may be the system's, which has none of them.
python=$(ansible-playbook --version | sed -n 's/^  python version = .*(\(\/[^)]*\))$/\1/p')
python=${python:-${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}}
lab_dns=("$python" "$collection/roles/lab/files/lab_dns.py")
state=/var/lib/mailrelay-dns-it
dns=127.0.7.53
spool=$state/upstream
log=$work/log
cp "$here/vars/lab.yml" "$work/lab.yml"

cleanup() {
  "${lab_dns[@]}" stop --state-dir "$state/dns" >/dev/null 2>&1 || true
  ansible-playbook "${inventory[@]}" mailrelay.smtp.demo_clean >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  cat "$log" 2>/dev/null || true
  echo "dns_dkim integration: $*" >&2
  exit 1
}

recap_changed() {
  sed -n 's/^dnslab *: .*changed=\([0-9]*\).*/\1/p' "$log"
}

# Rewrite the description's dkim part: selectors, active selector.
set_dkim() {
  "$python" - "$work/lab.yml" "$1" "$2" <<'PY'
import sys, yaml
path, selectors, active = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
data = yaml.safe_load(open(path))
data["mailrelay_topology"]["dkim"] = {"selectors": selectors, "active": active}
open(path, "w").write(yaml.safe_dump(data))
PY
}

derive_and_serve() {
  ansible-playbook "${inventory[@]}" -e "mailrelay_dns_records_dir=$work/dns" mailrelay.smtp.dns_records >"$log" 2>&1 || fail "dns_records failed"
  "${lab_dns[@]}" serve --records "$work/dns/records.yml" --listen "$dns" --state-dir "$state/dns" >/dev/null || fail "dnsmasq did not start"
}

# Send one message from the submission user; print the captured file once it arrived (bounded wait).
send_out() {
  local token=$1 from=${2:-alice@example.org} found=""
  swaks --silent 2 --server 127.0.7.11:587 --local-interface 127.0.7.30 --tls --auth PLAIN \
    --auth-user alice@example.org --auth-password dns-Pa55-1 --from "$from" --to someone@example.com \
    --header "Subject: dkim test $token" --body "signed body $token" >/dev/null || fail "swaks $token failed"
  for _ in $(seq 1 60); do
    found=$(grep -rl "dkim test $token" "$spool" 2>/dev/null | head -1 || true)
    [[ -n $found ]] && break
    sleep 0.5
  done
  [[ -n $found ]] || fail "message $token did not arrive upstream"
  echo "$found"
}

verify() {
  "${lab_dns[@]}" dkim --nameserver "$dns" "$@"
}

ansible-playbook "${inventory[@]}" "$here/prepare.yml" >"$log" 2>&1 || fail "prepare failed"

echo "== converge with DKIM, then nothing changes"
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "converge failed"
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "second run failed"
[[ $(recap_changed) == 0 ]] || fail "second run reported changed=$(recap_changed)"
# The signing hub's no-op is its preflight alone: OpenDKIM is planned in the same call,
# so the hub role (its opendkim call) is not even reached.
grep -q 'TASK \[End the play for a host whose whole plan changes nothing\]' "$log" || fail "the hub did not end after its preflight"
if grep -q 'TASK \[mailrelay.smtp.hub : Sign the own domains' "$log"; then
  fail "the hub role's opendkim call ran on a no-op"
fi
keys=/etc/mailrelay/opendkim/postfix-dns-hub/keys
[[ $(stat -c '%a %U' "$keys/s1-hub.private") == "600 opendkim" ]] || fail "RSA key is not 0600 opendkim: $(stat -c '%a %U' "$keys/s1-hub.private")"
[[ $(stat -c '%a %U' "$keys/s1-hub-ed25519.private") == "600 opendkim" ]] || fail "Ed25519 key is not 0600 opendkim"
[[ $(stat -c '%a' "$keys") == 700 ]] || fail "key directory is not 0700"
openssl pkey -in "$keys/s1-hub.private" -noout -text | grep -q 'Private-Key: (2048 bit' || fail "RSA key is not 2048 bits"
grep -q '^smtpd_milters = inet:127.0.0.1:8891, inet:127.0.0.1:8892$' /etc/postfix-dns-hub/main.cf || fail "hub main.cf has no milter"

echo "== dns_records writes the records; dnsmasq serves them; dns_check passes"
derive_and_serve
grep -q '^s1-hub._domainkey.example.org.	3600	IN	TXT	"v=DKIM1; k=rsa; p=' "$work/dns/records.zone" || fail "no RSA DKIM record in the zone file"
grep -q '^s1-hub-ed25519._domainkey.example.net.	3600	IN	TXT	"v=DKIM1; k=ed25519; p=' "$work/dns/records.zone" || fail "no Ed25519 DKIM record"
grep -q '^example.org.	3600	IN	TXT	"v=spf1 ip4:127.0.7.20 ip4:127.0.7.13 ~all"$' "$work/dns/records.zone" || fail "SPF record not as expected"
grep -q '^mx: mx.example.org' "$work/dns/mta-sts/example.net/.well-known/mta-sts.txt" || fail "no MTA-STS policy file"
ansible-playbook "${inventory[@]}" -e "mailrelay_dns_records_dir=$work/dns" -e "{\"mailrelay_dns_nameservers\": [\"$dns\"]}" \
  mailrelay.smtp.dns_check >"$log" 2>&1 || fail "dns_check failed against the lab DNS"
grep -q 'all [0-9]* DNS record sets are as the topology needs' "$log" || fail "dns_check did not report success"

echo "== the command of docs/dns.md, as written, against the lab inventory"
(cd "$collection" && ansible-playbook -i inventories/lab mailrelay.smtp.dns_records) >"$log" 2>&1 || fail "docs/dns.md's dns_records command failed"
grep -q '^example.org.	3600	IN	MX	10 mx.example.org.$' "$collection/mailrelay-dns/records.zone" || fail "the lab's records.zone has no MX"
rm -rf "$collection/mailrelay-dns"

echo "== one wrong record is reported exactly"
"${lab_dns[@]}" serve --records "$work/dns/records.yml" --listen "$dns" --state-dir "$state/dns" \
  --change "_dmarc.example.net=v=DMARC1; p=reject; rua=mailto:postmaster@example.net" >/dev/null || fail "dnsmasq did not restart"
if ansible-playbook "${inventory[@]}" -e "mailrelay_dns_records_dir=$work/dns" -e "{\"mailrelay_dns_nameservers\": [\"$dns\"]}" \
  mailrelay.smtp.dns_check >"$log" 2>&1; then
  fail "dns_check passed with a wrong DMARC record"
fi
grep -q '1 of [0-9]* DNS record sets are not as the topology needs' "$log" || fail "dns_check did not count exactly one difference"
grep -Eq '_dmarc.example.net +TXT +different +v=DMARC1; p=none; rua=mailto:postmaster@example.net' "$log" || fail "the wrong record is not named"
grep -q 'found: v=DMARC1; p=reject; rua=mailto:postmaster@example.net' "$log" || fail "what DNS served is not shown"
derive_and_serve

echo "== mail from a submission user and from the hub leaves signed (RSA and Ed25519); dkimpy verifies"
message=$(send_out "t1")
verify "$message" >"$log" || fail "dkimpy did not verify $message"
grep -q '"selector": "s1-hub", "algorithm": "rsa-sha256"' "$log" || fail "no RSA signature by s1-hub"
grep -q '"selector": "s1-hub-ed25519", "algorithm": "ed25519-sha256"' "$log" || fail "no Ed25519 signature"
other=$(send_out "t1net" sales@example.net)
verify "$other" >"$log" || fail "mail of example.net does not verify"
grep -q '"domain": "example.net"' "$log" || fail "example.net mail is not signed as example.net"
postmulti -i postfix-dns-hub -x sendmail -f postmaster@example.org someone@example.com <<<"Subject: dkim test hub1

sent by the hub itself" || fail "sendmail on the hub failed"
for _ in $(seq 1 60); do hubmsg=$(grep -rl 'dkim test hub1' "$spool" | head -1 || true); [[ -n $hubmsg ]] && break; sleep 0.5; done
[[ -n ${hubmsg:-} ]] || fail "the hub's own message did not arrive"
verify "$hubmsg" >"$log" || fail "the hub's own message does not verify"

echo "== a tampered body fails"
sed 's/signed body t1/signed body T1/' "$message" >"$work/tampered.eml"
if verify "$work/tampered.eml" >"$log"; then fail "a tampered message verified"; fi
grep -q '"pass": false' "$log" || fail "no failed verdict for the tampered message"

echo "== SPF passes for the hub's address (pyspf against the lab DNS)"
"${lab_dns[@]}" spf --nameserver "$dns" --ip 127.0.7.13 --sender alice@example.org --helo hub.example.org >"$log" || fail "SPF did not pass"
if "${lab_dns[@]}" spf --nameserver "$dns" --ip 127.0.7.99 --sender alice@example.org --helo hub.example.org >"$log"; then
  fail "SPF passed for an address that does not send"
fi

echo "== mail from the Internet for an own domain is not signed"
swaks --silent 2 --server 127.0.7.12:25 --local-interface 127.0.7.30 --from someone@example.com --to alice@example.org \
  --header "Subject: inbound dkim test" >/dev/null || fail "inbound swaks failed"
maildir=/var/mail/mailrelay/postfix-dns-hub/example.org/alice
for _ in $(seq 1 60); do inbound=$(grep -rl 'inbound dkim test' "$maildir" 2>/dev/null | head -1 || true); [[ -n $inbound ]] && break; sleep 0.5; done
[[ -n ${inbound:-} ]] || fail "the inbound message did not arrive"
! grep -qi '^DKIM-Signature:' "$inbound" || fail "the hub signed mail from the Internet"

echo "== rotation: s2 published while s1 signs"
set_dkim s1,s2 s1
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "converge with s2 published failed"
[[ -f $keys/s2-hub.private && -f $keys/s2-hub-ed25519.private ]] || fail "s2 keys were not generated"
derive_and_serve
grep -q '^s2-hub._domainkey.example.org.' "$work/dns/records.zone" || fail "s2 is not in the records"
message=$(send_out "t2")
verify "$message" >"$log" || fail "mail signed while s2 is only published does not verify"
if ! grep -q '"selector": "s1-hub"' "$log" || grep -q '"selector": "s2-hub' "$log"; then fail "not signed by s1 alone while s2 is only published"; fi

echo "== rotation: s2 signs, s1 still published; both generations verify"
set_dkim s1,s2 s2
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "converge with s2 active failed"
derive_and_serve
new=$(send_out "t3")
verify "$new" >"$log" || fail "mail signed by s2 does not verify"
if ! grep -q '"selector": "s2-hub"' "$log" || grep -q '"selector": "s1-hub' "$log"; then fail "not signed by s2 alone"; fi
verify "$message" >"$log" || fail "mail signed by s1 no longer verifies while s1 is still published"

echo "== rotation: s1 removed: its keys and records go"
set_dkim s2 s2
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "converge without s1 failed"
[[ ! -e $keys/s1-hub.private && ! -e $keys/s1-hub-ed25519.private ]] || fail "s1 keys were not removed"
derive_and_serve
! grep -q 's1-hub' "$work/dns/records.zone" || fail "s1 is still in the records"
verify "$(send_out t4)" >"$log" || fail "mail after the rotation does not verify"
ansible-playbook "${inventory[@]}" mailrelay.smtp.site >"$log" 2>&1 || fail "run after rotation failed"
[[ $(recap_changed) == 0 ]] || fail "run after rotation reported changed=$(recap_changed)"

echo "dns_dkim integration: all scenarios behaved as expected"
