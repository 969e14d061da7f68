#!/usr/bin/env bash
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The multi-host lab of `make demo-publishing` (docs/publishing.md): every host is a
# network namespace with its own mount namespace (private /etc, /var, /run over
# copy-on-write overlays), its own host name and its own sshd, so Ansible reaches each
# one over SSH as it would a real machine.
#
#   publishing-lab.sh up             build the hosts and networks (again: rebuild from scratch)
#   publishing-lab.sh down           end every lab process, remove every lab file
#   publishing-lab.sh run HOST CMD   run CMD inside HOST (ctl runs ansible-playbook)
#   publishing-lab.sh proxy HOST PORT  relay stdin/stdout to HOST:PORT from the management
#                                    network (ssh ProxyCommand: Ansible runs outside the lab)
#   publishing-lab.sh serve-dns RECORDS.yml  the Internet's DNS serves exactly these records (what
#                                    mailrelay.smtp.dns_records wrote) and the outside domain's
#
# Networks (198.18.0.0/15 is reserved for network tests; the lab refuses to start when
# this machine already uses any of it):
#   internet 198.18.10.0/24  inet (client .100, Internet MTA .200, DNS .53), gateway .1,
#                            published: mx1 .25, mx2 .26, submission .87
#   dmz      198.18.20.0/24  gateway .1, submission .10, mx1 .11, mx2 .12
#   inside   198.18.30.0/24  gateway .1, hub .2, inside DNS server .53
#   mgmt     198.18.99.0/24  ctl (the Ansible controller) .1, every host .1x (out of band)
# No namespace has a route to anything outside these networks.
set -euo pipefail

LAB_NETWORKS=(198.18.10.0/24 198.18.20.0/24 198.18.30.0/24 198.18.99.0/24)
STATE=${PUBLISHING_LAB_STATE:-/var/tmp/mailrelay-publishing-lab}
# Shared by every host (outside the private /etc, /var and /run): keys, certificate, spool.
SHARED=${PUBLISHING_LAB_SHARED:-/tmp/mailrelay-publishing-lab}
HOSTS=(ctl inet gw sub mx1 mx2 hub dns)
REPO=$(cd "$(dirname "$0")/.." && pwd)
declare -A MGMT=([ctl]=198.18.99.1 [inet]=198.18.99.10 [gw]=198.18.99.11 [sub]=198.18.99.12
                 [mx1]=198.18.99.13 [mx2]=198.18.99.14 [hub]=198.18.99.15 [dns]=198.18.99.16)
# Bounded waits: 50 x 0.1 s.
POLLS=50

die() { echo "publishing-lab: $*" >&2; exit 1; }

holder() { # the pid whose namespaces make up HOST
  local pid child
  pid=$(cat "$STATE/$1/pid" 2>/dev/null) || return 1
  # No pgrep: a minimal Debian has no procps.
  child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null) || return 1
  child=${child%% *}
  [[ -n $child ]] && echo "$child"
}

in_host() { # HOST CMD...: run inside the host's mount, network and UTS namespaces
  local host=$1 pid
  shift
  pid=$(holder "$host") || die "host $host is not running (publishing-lab.sh up)"
  # -r -w: the holder's root and working directory; entering a mount namespace alone would
  # reset them to the namespace's root, which in a chroot is the machine's own /.
  nsenter -t "$pid" -m -n -u -r -w -- "$@"
}

check_overlap() {
  # A lab network that overlaps one of this machine's would shadow real traffic.
  python3 - "${LAB_NETWORKS[@]}" <<'PY'
import ipaddress, subprocess, sys
lab = [ipaddress.ip_network(n) for n in sys.argv[1:]]
used = []
for line in subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout.splitlines():
    words = line.split()
    if words[2] == "inet":
        used.append((words[1], ipaddress.ip_interface(words[3]).network))
types = ("unicast", "local", "broadcast", "multicast", "anycast", "unreachable", "prohibit", "blackhole", "throw", "nat")
for line in subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True, check=True).stdout.splitlines():
    words = line.split()
    destination = words[1] if words[0] in types else words[0]
    try:
        used.append(("route", ipaddress.ip_network(destination, strict=False)))
    except ValueError:
        pass  # default, or a keyword: no network of its own
clashes = ["%s overlaps %s (%s)" % (n, net, where) for n in lab for where, net in used if n.overlaps(net) and not net.is_loopback]
if clashes:
    sys.exit("publishing-lab: refusing to start, this machine uses the lab's addresses:\n  " + "\n  ".join(clashes))
PY
}

start_host() {
  local host=$1 dir=$STATE/$1 pid propagation=private
  mkdir -p "$dir"/{etc,var,run}/{u,w}
  # In a chroot (the brand-new roots of CI) / is no mount point and cannot be made private;
  # there the host's mounts stay in its namespace as long as the enclosing mount is not
  # shared, which is checked below.
  unshare --mount --propagation private true 2>/dev/null || propagation=unchanged
  unshare --mount --net --uts --fork --propagation "$propagation" bash -c "
    # /var last: the upper directories live under /var/tmp, and an overlay cannot be the
    # upper layer of another one.
    for top in run etc var; do
      mount -t overlay overlay -o lowerdir=/\$top,upperdir=$dir/\$top/u,workdir=$dir/\$top/w /\$top
    done
    echo $host >/proc/sys/kernel/hostname
    ip link set lo up
    exec sleep infinity" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/pid"
  for ((i = 0; i < POLLS; i++)); do
    pid=$(holder "$host") && [[ $(readlink "/proc/$pid/ns/net") != "$(readlink /proc/self/ns/net)" ]] \
      && [[ $(cat "/proc/$pid/comm") == sleep ]] && break
    sleep 0.1
  done
  ((i < POLLS)) || die "host $host did not start"
  # Everything later writes into the host's /etc, /var and /run: they must be its own.
  local top
  for top in /etc /var /run; do
    # shellcheck disable=SC2016  # awk's own $5, not the shell's
    in_host "$host" awk -v top="$top" '$5 == top && / - overlay / {found = 1} END {exit !found}' /proc/self/mountinfo \
      || die "host $host has no private $top: refusing to go on"
  done
  if awk '$5 == "/etc" || $5 == "/var" || $5 == "/run"' /proc/self/mountinfo | grep -q overlay; then
    die "the overlays of host $host appeared outside it (shared mounts): run publishing-lab.sh down"
  fi
}

link() { # HOST_A IF_A HOST_B IF_B: a veth pair between two hosts, made inside HOST_A
  in_host "$1" ip link add "$2" type veth peer name "$4" netns "$(holder "$3")"
  in_host "$1" ip link set "$2" up
  in_host "$3" ip link set "$4" up
}

bridge() { # HOST NAME ADDRESS/PREFIX
  in_host "$1" ip link add "$2" type bridge
  in_host "$1" ip addr add "$3" dev "$2"
  in_host "$1" ip link set "$2" up
}

start_sshd() {
  local host=$1
  cat >"$SHARED/ssh/sshd_config-$host" <<EOF
ListenAddress ${MGMT[$host]}
HostKey $SHARED/ssh/host_ed25519
AuthorizedKeysFile $SHARED/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile /run/mailrelay-lab-sshd.pid
Subsystem sftp internal-sftp
# Ansible opens many connections at once (forks, delegation): the default 10:30:100 drops some
# before the key exchange (kex_exchange_identification) on a loaded machine.
MaxStartups 100:30:200
MaxSessions 50
EOF
  in_host "$host" mkdir -p /run/sshd
  in_host "$host" /usr/sbin/sshd -f "$SHARED/ssh/sshd_config-$host" -E /var/log/mailrelay-lab-sshd.log </dev/null >/dev/null 2>&1
}

up() {
  [[ $(id -u) -eq 0 ]] || die "run as root (namespaces, overlays)"
  for tool in unshare nsenter ip nft sshd dnsmasq swaks openssl; do
    command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || die "$tool is missing: run scripts/bootstrap.sh"
  done
  down >/dev/null
  check_overlap
  mkdir -p "$STATE" "$SHARED"/{ssh,tls,internet-mta}
  chmod 0700 "$SHARED/ssh"
  ssh-keygen -q -t ed25519 -N "" -C mailrelay-publishing-lab -f "$SHARED/ssh/id_ed25519"
  ssh-keygen -q -t ed25519 -N "" -C mailrelay-publishing-lab-host -f "$SHARED/ssh/host_ed25519"
  cp "$SHARED/ssh/id_ed25519.pub" "$SHARED/ssh/authorized_keys"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=mail.example.org \
    -addext "subjectAltName=DNS:submission.example.org,DNS:mx1.example.org,DNS:mx2.example.org,DNS:hub.example.org" \
    -keyout "$SHARED/tls/lab.key" -out "$SHARED/tls/lab.pem" 2>/dev/null
  for host in "${HOSTS[@]}"; do start_host "$host"; done

  # Out-of-band management: a bridge in the controller's namespace, one leg per host.
  bridge ctl mgmt "${MGMT[ctl]}/24"
  for host in "${HOSTS[@]:1}"; do
    link ctl "m-$host" "$host" mgmt0
    in_host ctl ip link set "m-$host" master mgmt
    in_host "$host" ip addr add "${MGMT[$host]}/24" dev mgmt0
  done

  # The Internet leg of the gateway, with one outside address per published server.
  link gw out0 inet eth0
  for address in 198.18.10.1/24 198.18.10.25/32 198.18.10.26/32 198.18.10.87/32; do
    in_host gw ip addr add "$address" dev out0
  done
  for address in 198.18.10.100/24 198.18.10.200/32 198.18.10.53/32; do
    in_host inet ip addr add "$address" dev eth0
  done
  # The Internet knows the way to the inside networks (as a neighbour that tries would):
  # only the gateway's rules keep it out.
  in_host inet ip route add 198.18.20.0/24 via 198.18.10.1
  in_host inet ip route add 198.18.30.0/24 via 198.18.10.1

  bridge gw dmz0 198.18.20.1/24
  bridge gw lan0 198.18.30.1/24
  # The DMZ and inside bridges stand for switches, which filter nothing: with br_netfilter loaded
  # the gateway's forward chain would also see traffic between two hosts of one network (the hub
  # asking the inside DNS server). The setting is the gateway namespace's own.
  for family in iptables ip6tables; do
    in_host gw sh -c "[ ! -e /proc/sys/net/bridge/bridge-nf-call-$family ] || echo 0 >/proc/sys/net/bridge/bridge-nf-call-$family"
  done
  declare -A inside=([sub]="dmz0 198.18.20.10" [mx1]="dmz0 198.18.20.11" [mx2]="dmz0 198.18.20.12" [hub]="lan0 198.18.30.2"
                     [dns]="lan0 198.18.30.53")
  for host in sub mx1 mx2 hub dns; do
    read -r bridge_name address <<<"${inside[$host]}"
    link gw "${bridge_name:0:1}-$host" "$host" eth0
    in_host gw ip link set "${bridge_name:0:1}-$host" master "$bridge_name"
    in_host "$host" ip addr add "$address/24" dev eth0
    in_host "$host" ip route add default via "${address%.*}.1"
    # A resolver that refuses at once keeps smtpd's client name lookups from waiting. The
    # hub's deliveries ask the outside DNS server through its instance's own resolver file,
    # which the collection writes from outbound.dns_servers: the lab gives the hub none.
    in_host "$host" sh -c 'echo "nameserver 127.0.0.1" >/etc/resolv.conf'
    in_host "$host" mkdir -p /etc/mailrelay-lab/tls
    in_host "$host" install -m 0644 "$SHARED/tls/lab.pem" /etc/mailrelay-lab/tls/lab.pem
    in_host "$host" install -m 0600 "$SHARED/tls/lab.key" /etc/mailrelay-lab/tls/lab.key
  done

  # The Internet's DNS: MX of the own domain -> the gateway's outside addresses,
  # MX of an outside domain -> the Internet MTA.
  in_host inet dnsmasq --no-resolv --no-hosts --bind-interfaces --listen-address=198.18.10.53 \
    --except-interface=lo --pid-file=/run/mailrelay-lab-dnsmasq.pid --user=root \
    --mx-host=example.org,mx1.example.org,10 --mx-host=example.org,mx2.example.org,20 \
    --host-record=mx1.example.org,198.18.10.25 --host-record=mx2.example.org,198.18.10.26 \
    --host-record=submission.example.org,198.18.10.87 \
    --mx-host=elsewhere.test,mail.elsewhere.test,10 --host-record=mail.elsewhere.test,198.18.10.200
  in_host inet sh -c 'echo "nameserver 198.18.10.53" >/etc/resolv.conf'
  # The inside network's DNS server: answers the inside hosts, asks the outside one for the rest
  # (the gateway lets only it and the hub query the outside: publishing.dns_servers).
  in_host dns dnsmasq --no-resolv --no-hosts --bind-interfaces --listen-address=198.18.30.53 \
    --except-interface=lo --pid-file=/run/mailrelay-lab-dnsmasq.pid --user=root --server=198.18.10.53 \
    --local=/inside.example.org/ --host-record=hub.inside.example.org,198.18.30.2 \
    --host-record=ns.inside.example.org,198.18.30.53
  # The Internet MTA: captures every message it receives.
  in_host inet python3 "$REPO/roles/lab/files/lab.py" upstream-start \
    --collection "$REPO/.cache/collections/ansible_collections/mailrelay/smtp" \
    --state-dir "$SHARED/internet-mta" --upstream 198.18.10.200:25 >/dev/null

  # The inventory's ssh ProxyCommand: a fixed path, wherever the inventory is copied or linked.
  printf '#!/bin/sh\nexec %q proxy "$@"\n' "$REPO/scripts/publishing-lab.sh" >"$SHARED/proxy"
  chmod 0755 "$SHARED/proxy"
  for host in "${HOSTS[@]:1}"; do start_sshd "$host"; done
  for host in "${HOSTS[@]:1}"; do
    for ((i = 0; i < POLLS; i++)); do
      in_host ctl bash -c "exec 3<>/dev/tcp/${MGMT[$host]}/22" 2>/dev/null && break
      sleep 0.1
    done
    ((i < POLLS)) || die "sshd of $host does not answer on ${MGMT[$host]}:22"
  done
  echo "publishing-lab: up (hosts: ${HOSTS[*]}; inventories/publishing reaches them over SSH)"
}

serve_dns() {
  local records=$1 python=${PUBLISHING_LAB_PYTHON:-$REPO/.venv/bin/python}
  [[ -f $records ]] || die "no records file $records (run mailrelay.smtp.dns_records first)"
  mkdir -p "$SHARED/internet-dns"
  # The hand-written DNS of the lab's start goes (once); lab_dns.py serves what was derived.
  # shellcheck disable=SC2016  # the inner shell's own $pid, read inside the Internet host
  in_host inet sh -c 'pid=$(cat /run/mailrelay-lab-dnsmasq.pid 2>/dev/null) || exit 0
    kill "$pid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f /run/mailrelay-lab-dnsmasq.pid'
  cat >"$SHARED/internet-dns/outside.yml" <<'EOF'
records:
  - {name: elsewhere.test, type: MX, value: "10 mail.elsewhere.test."}
  - {name: mail.elsewhere.test, type: A, value: 198.18.10.200}
EOF
  in_host inet "$python" "$REPO/roles/lab/files/lab_dns.py" serve --records "$records" \
    --records "$SHARED/internet-dns/outside.yml" --listen 198.18.10.53 --state-dir "$SHARED/internet-dns"
}

down() {
  local host pid ns p outer children
  for host in "${HOSTS[@]}"; do
    [[ -f $STATE/$host/pid ]] || continue
    pid=$(holder "$host" || true)
    ns=$(readlink "/proc/$pid/ns/net" 2>/dev/null || true)
    if [[ -n $ns && $ns != "$(readlink /proc/self/ns/net)" ]]; then
      # Every process of the host (sshd, Postfix, Dovecot, watchdogs) lives in its network namespace.
      for p in /proc/[0-9]*; do
        p=${p#/proc/}
        if [[ $p != "$pid" && $(readlink "/proc/$p/ns/net" 2>/dev/null) == "$ns" ]]; then
          kill "$p" 2>/dev/null || true
        fi
      done
    fi
    # Also the holder of a host whose start was never confirmed.
    outer=$(cat "$STATE/$host/pid")
    read -ra children <"/proc/$outer/task/$outer/children" 2>/dev/null || true
    kill "$outer" "${children[@]}" "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < POLLS; i++)); do
    local alive=0
    for host in "${HOSTS[@]}"; do
      [[ -f $STATE/$host/pid ]] && kill -0 "$(cat "$STATE/$host/pid")" 2>/dev/null && alive=1
    done
    ((alive)) || break
    sleep 0.1
  done
  rm -rf "$STATE" "$SHARED"
  echo "publishing-lab: down"
}

case ${1:-} in
up) up ;;
down) down ;;
run) host=$2; shift 2; in_host "$host" bash -c "$*" ;;
proxy)
  # The management network exists only inside the lab: enter the controller's network
  # namespace and relay the SSH stream there (the root namespace gets no lab address).
  pid=$(holder ctl) || die "the lab is not up (publishing-lab.sh up)"
  exec nsenter -t "$pid" -n -- python3 -c '
import os, select, socket, sys
connection = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
connection.settimeout(None)
streams = [0, connection]
while streams:
    for ready in select.select(streams, [], [])[0]:
        if ready == 0:
            data = os.read(0, 65536)
            if not data:
                connection.shutdown(socket.SHUT_WR)
                streams.remove(0)
            else:
                connection.sendall(data)
        else:
            data = connection.recv(65536)
            if not data:
                sys.exit(0)
            os.write(1, data)
' "$2" "$3" ;;
check-overlap) check_overlap ;;
serve-dns) serve_dns "$2" ;;
*) echo "usage: $0 up|down|run HOST CMD|proxy HOST PORT|serve-dns RECORDS.yml|check-overlap" >&2; exit 2 ;;
esac
