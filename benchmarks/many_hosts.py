#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 16.3: deploy the topology on many hosts at once, for real.

For every host count (default 10, 20, 30) and every forks setting (default:
Ansible's 5, and one fork per host), builds that many brand-new hosts, runs
playbooks/site.yml (the first converge), runs it again (the no-op re-run) and
prints both wall times. A host is a network namespace with its own mount
namespace (private /etc, /var, /run over copy-on-write overlays, as in the
publishing lab, scripts/publishing-lab.sh) and its own sshd; Ansible runs in a
controller namespace and reaches each host over SSH. One topology: the first
host is the hub, the second a submission server (Dovecot SASL), every other
host an inbound relay, each with its own Postfix instance.

Exits 1 when a run fails on any host, when a re-run changes anything, or when
an instance does not greet afterwards. Every host is removed afterwards, also
after a failure or Ctrl-C. Run as root (namespaces, overlays):
    .venv/bin/python benchmarks/many_hosts.py [--hosts 10,20,30] [--forks 5,hosts]

Addresses: 198.19.0.0/24 (198.18.0.0/15 is reserved for network tests; the
publishing lab uses 198.18.x): the controller .1, host i .(10+i), one
address per host for SSH and its mail job. Refuses to start when this machine
already uses any of it.
"""

import argparse
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORK = ipaddress.ip_network("198.19.0.0/24")
CONTROLLER = NETWORK[1]
FIRST_HOST = 11
# Upper and work directories of the overlays: not under /tmp (shared, maybe tmpfs
# without overlay upper support), not under a directory the overlays cover.
STATE = "/var/tmp/mailrelay-many-hosts"
# Shared by every host (outside the private /etc, /var, /run): keys, certificate, inventory.
SHARED = "/tmp/mailrelay-many-hosts"
# Bounded waits: this many polls of POLL_SECONDS.
POLLS = 100
POLL_SECONDS = 0.1
PLAYBOOK_TIMEOUT = 3600
RECAP = re.compile(r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
                   r"failed=(?P<failed>\d+)", re.MULTILINE)


class BenchmarkError(Exception):
    pass


def host_names(count):
    return ["h%02d" % index for index in range(1, count + 1)]


def host_address(index):
    """Address of the index-th host (1-based)."""
    return str(NETWORK[FIRST_HOST - 1 + index])


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, **kwargs)


def check_overlap():
    """Refuse a network this machine already uses: the lab would shadow real traffic."""
    used = []
    addresses = run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout
    for line in addresses.splitlines():
        words = line.split()
        if words[2] == "inet":
            used.append((words[1], ipaddress.ip_interface(words[3]).network))
    routes = run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    kinds = ("unicast", "local", "broadcast", "multicast", "anycast", "unreachable", "prohibit", "blackhole", "throw", "nat")
    for line in routes.splitlines():
        words = line.split()
        destination = words[1] if words[0] in kinds else words[0]
        try:
            used.append(("route", ipaddress.ip_network(destination, strict=False)))
        except ValueError:
            pass  # default, or a keyword: no network of its own
    clashes = ["%s overlaps %s (%s)" % (NETWORK, net, where) for where, net in used
               if NETWORK.overlaps(net) and not net.is_loopback]
    if clashes:
        raise BenchmarkError("refusing to start, this machine uses the lab's addresses: " + "; ".join(clashes))


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as handle:
            return [int(word) for word in handle.read().split()]
    except OSError:
        return []


def net_namespace(pid):
    try:
        return os.readlink("/proc/%d/ns/net" % pid)
    except OSError:
        return None


class Lab:
    """The controller namespace and COUNT hosts, built on start(), removed on stop()."""

    def __init__(self, count):
        self.count = count
        self.names = host_names(count)
        self.outer = {}   # name -> pid of `unshare` (the parent of the holder)
        self.holder = {}  # name -> pid of the process whose namespaces make up the host

    # -- building ----------------------------------------------------------------------------
    def _start_holder(self, name, script, mount):
        flags = ["--net", "--uts", "--fork"] + (["--mount", "--propagation", "private"] if mount else [])
        process = subprocess.Popen(["unshare"] + flags + ["bash", "-c", script], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.outer[name] = process.pid
        own = net_namespace(os.getpid())
        for _poll in range(POLLS):
            for child in children_of(process.pid):
                try:
                    with open("/proc/%d/comm" % child) as handle:
                        command = handle.read().strip()
                except OSError:
                    continue
                if command == "sleep" and net_namespace(child) not in (None, own):
                    self.holder[name] = child
                    return
            if process.poll() is not None:
                break
            time.sleep(POLL_SECONDS)
        raise BenchmarkError("host %s did not start" % name)

    def inside(self, name, argv, **kwargs):
        """Run argv in the host's namespaces (the controller has a network namespace only)."""
        spaces = ["-n"] if name == "ctl" else ["-m", "-n", "-u"]
        return run(["nsenter", "-t", str(self.holder[name])] + spaces + ["--"] + argv, **kwargs)

    def _start_host(self, name):
        directory = os.path.join(STATE, name)
        for top in ("run", "etc", "var"):
            for sub in ("u", "w"):
                os.makedirs(os.path.join(directory, top, sub), exist_ok=True)
        # /var last: the upper directories live under /var/tmp, and an overlay cannot be
        # the upper layer of another one.
        script = "".join(
            "mount -t overlay overlay -o lowerdir=/{top},upperdir={d}/{top}/u,workdir={d}/{top}/w /{top} && ".format(
                top=top, d=directory) for top in ("run", "etc", "var"))
        script += "echo %s >/proc/sys/kernel/hostname && ip link set lo up && exec sleep infinity" % name
        self._start_holder(name, script, mount=True)
        mounts = self.inside(name, ["cat", "/proc/self/mountinfo"], capture_output=True, text=True).stdout
        for top in ("/etc", "/var", "/run"):
            if not any(line.split()[4] == top and " - overlay " in line for line in mounts.splitlines()):
                raise BenchmarkError("host %s has no private %s: refusing to go on" % (name, top))

    def start(self):
        check_overlap()
        self.stop(quiet=True)
        os.makedirs(os.path.join(SHARED, "ssh"), mode=0o700, exist_ok=True)
        os.makedirs(os.path.join(SHARED, "tls"), exist_ok=True)
        ssh = os.path.join(SHARED, "ssh")
        for key in ("id_ed25519", "host_ed25519"):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mailrelay-many-hosts", "-f", os.path.join(ssh, key)])
        shutil.copy(os.path.join(ssh, "id_ed25519.pub"), os.path.join(ssh, "authorized_keys"))
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=mail.example.org",
             "-addext", "subjectAltName=DNS:*.example.org", "-keyout", os.path.join(SHARED, "tls", "bench.key"),
             "-out", os.path.join(SHARED, "tls", "bench.pem")], stderr=subprocess.DEVNULL)

        self._start_holder("ctl", "ip link set lo up && exec sleep infinity", mount=False)
        self.inside("ctl", ["ip", "link", "add", "mgmt", "type", "bridge"])
        self.inside("ctl", ["ip", "addr", "add", "%s/%d" % (CONTROLLER, NETWORK.prefixlen), "dev", "mgmt"])
        self.inside("ctl", ["ip", "link", "set", "mgmt", "up"])
        for index, name in enumerate(self.names, 1):
            self._start_host(name)
            leg = "m-" + name
            self.inside("ctl", ["ip", "link", "add", leg, "type", "veth", "peer", "name", "eth0",
                                "netns", str(self.holder[name])])
            self.inside("ctl", ["ip", "link", "set", leg, "master", "mgmt", "up"])
            self.inside(name, ["ip", "addr", "add", "%s/%d" % (host_address(index), NETWORK.prefixlen), "dev", "eth0"])
            self.inside(name, ["ip", "link", "set", "eth0", "up"])
            # No DNS server in the lab: a resolver that refuses at once keeps smtpd's client
            # name lookups from waiting.
            self.inside(name, ["sh", "-c", "echo 'nameserver 127.0.0.1' >/etc/resolv.conf"])
            self.inside(name, ["install", "-D", "-m", "0644", os.path.join(SHARED, "tls", "bench.pem"),
                               "/etc/mailrelay-bench/tls/bench.pem"])
            self.inside(name, ["install", "-D", "-m", "0600", os.path.join(SHARED, "tls", "bench.key"),
                               "/etc/mailrelay-bench/tls/bench.key"])
            self._start_sshd(name, host_address(index))
        for index, name in enumerate(self.names, 1):
            self.wait_for_port(host_address(index), 22, "sshd of %s" % name)

    def _start_sshd(self, name, address):
        config = os.path.join(SHARED, "ssh", "sshd_config-" + name)
        with open(config, "w") as handle:
            handle.write("\n".join([
                "ListenAddress " + address,
                "HostKey " + os.path.join(SHARED, "ssh", "host_ed25519"),
                "AuthorizedKeysFile " + os.path.join(SHARED, "ssh", "authorized_keys"),
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                # Ansible's forks open many sessions at once.
                "MaxStartups 100",
                "PidFile /run/mailrelay-bench-sshd.pid",
                "Subsystem sftp internal-sftp", ""]))
        self.inside(name, ["mkdir", "-p", "/run/sshd"])
        self.inside(name, ["/usr/sbin/sshd", "-f", config, "-E", "/var/log/mailrelay-bench-sshd.log"])

    def probe(self, address, port, timeout):
        """The first line the server at address:port sends, read from the controller namespace."""
        code = ("import socket,sys\n"
                "try:\n"
                "    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))\n"
                "    print(s.makefile('rb').readline().decode('ascii', 'replace').strip())\n"
                "except OSError as error:\n"
                "    print('error: %s' % error)\n")
        return self.inside("ctl", [sys.executable, "-c", code, address, str(port), str(timeout)],
                           capture_output=True, text=True).stdout.strip()

    def wait_for_port(self, address, port, what):
        for _poll in range(POLLS):
            if not self.probe(address, port, 1).startswith("error:"):
                return
            time.sleep(POLL_SECONDS)
        raise BenchmarkError("%s does not answer on %s:%d" % (what, address, port))

    # -- the deploy --------------------------------------------------------------------------
    def topology(self):
        tls = {"cert_file": "/etc/mailrelay-bench/tls/bench.pem", "key_file": "/etc/mailrelay-bench/tls/bench.key"}
        hub, submission, relays = self.names[0], self.names[1], self.names[2:]
        return {
            "domains": ["example.org"],
            "tls": tls,
            "hub": {
                "servers": [{"host": hub, "address": host_address(1), "hostname": "hub.example.org"}],
                "mailboxes": ["alice@example.org", "postmaster@example.org"],
                "submission_trust": "address",
            },
            "submission": {
                "servers": [{"host": submission, "address": host_address(2), "hostname": "submission.example.org"}],
                "users": [{"login": "alice@example.org", "password": "many-Hosts-16"}],
            },
            "inbound_relay": {
                "servers": [{"host": name, "address": host_address(index), "hostname": "mx%02d.example.org" % index}
                            for index, name in enumerate(relays, 3)],
            },
            "outbound": {"method": "dns"},
        }

    def listeners(self):
        """(host, address, port) of every job: the hub and relays on 25, submission on 587."""
        return [(name, host_address(index), 587 if index == 2 else 25) for index, name in enumerate(self.names, 1)]

    def write_inventory(self):
        inventory = {"all": {
            "vars": {
                "ansible_user": "root",
                "ansible_python_interpreter": "/usr/bin/python3",
                # As in the publishing lab: a loaded machine now and then drops a fresh connection.
                "ansible_ssh_retries": 3,
                "ansible_ssh_private_key_file": os.path.join(SHARED, "ssh", "id_ed25519"),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
                "mailrelay_topology": self.topology(),
            },
            "hosts": {name: {"ansible_host": host_address(index)} for index, name in enumerate(self.names, 1)},
        }}
        path = os.path.join(SHARED, "inventory.yml")
        with open(path, "w") as handle:
            json.dump(inventory, handle, indent=1)  # JSON is YAML
        os.chmod(path, 0o600)
        return path

    def deploy(self, inventory, forks, log_name):
        """Wall seconds of one site.yml run and the recap per host; raises when a host failed."""
        env = dict(os.environ)
        env.setdefault("ANSIBLE_CONFIG", os.path.join(ROOT, "ansible.cfg"))
        env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".cache", "collections"))
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = os.path.join(SHARED, "cp")
        env["ANSIBLE_FORKS"] = str(forks)
        env["ANSIBLE_NOCOLOR"] = "1"
        argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
                os.path.join(ROOT, "playbooks", "site.yml")]
        started = time.monotonic()
        result = subprocess.run(["nsenter", "-t", str(self.holder["ctl"]), "-n", "--"] + argv, env=env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT,
                                check=False)
        seconds = time.monotonic() - started
        log = os.path.join(SHARED, log_name + ".log")
        with open(log, "w") as handle:
            handle.write(result.stdout + result.stderr)
        recap = {match.group("host"): match.groupdict() for match in RECAP.finditer(result.stdout)}
        broken = sorted(set(self.names) - set(recap)) + sorted(
            host for host, row in recap.items() if row["failed"] != "0" or row["unreachable"] != "0")
        if result.returncode != 0 or broken:
            shutil.copy(log, os.path.join("/tmp", "mailrelay-many-hosts-%s.log" % log_name))
            raise BenchmarkError("%s: site.yml rc=%d, failed or unreachable: %s (log: /tmp/mailrelay-many-hosts-%s.log)"
                                 % (log_name, result.returncode, ", ".join(broken) or "-", log_name))
        return seconds, recap

    def check_greetings(self):
        silent = []
        for name, address, port in self.listeners():
            line = self.probe(address, port, 20)
            if not re.match(r"220[ -].*ESMTP", line):
                silent.append("%s %s:%d (%s)" % (name, address, port, line or "no greeting"))
        if silent:
            raise BenchmarkError("instances that do not greet: " + "; ".join(silent))

    # -- removal -----------------------------------------------------------------------------
    def stop(self, quiet=False):
        own = net_namespace(os.getpid())
        spaces = {net_namespace(pid) for pid in self.holder.values()} - {None, own}
        if spaces:
            # Every process of a host (sshd, Postfix, Dovecot, ssh masters) lives in its network namespace.
            for entry in os.listdir("/proc"):
                if entry.isdigit() and net_namespace(int(entry)) in spaces:
                    try:
                        os.kill(int(entry), signal.SIGKILL)
                    except OSError:
                        pass
        for pid in self.outer.values():
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        self.outer.clear()
        self.holder.clear()
        for directory in (STATE, SHARED):
            for _poll in range(POLLS):
                try:
                    shutil.rmtree(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(POLL_SECONDS)  # an overlay still going away with its namespace
        if not quiet:
            print("  hosts removed", flush=True)


def measure(count, forks):
    lab = Lab(count)
    try:
        print("--- %d hosts, forks=%d: building" % (count, forks), flush=True)
        lab.start()
        inventory = lab.write_inventory()
        converge, _recap = lab.deploy(inventory, forks, "converge-%d-%d" % (count, forks))
        print("  first converge %.1f s" % converge, flush=True)
        rerun, recap = lab.deploy(inventory, forks, "rerun-%d-%d" % (count, forks))
        changed = sorted(host for host, row in recap.items() if row["changed"] != "0")
        if changed:
            raise BenchmarkError("the re-run on %d hosts changed: %s" % (count, ", ".join(changed)))
        print("  no-op re-run  %.1f s (changed=0 on every host)" % rerun, flush=True)
        lab.check_greetings()
        return converge, rerun
    finally:
        lab.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--hosts", default="10,20,30", help="comma-separated host counts (each >= 3)")
    parser.add_argument("--forks", default="5,hosts", help="comma-separated forks settings; 'hosts' = one per host")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("many_hosts: run as root (namespaces, overlays)")
    counts = [int(word) for word in args.hosts.split(",")]
    if any(count < 3 or count > NETWORK.num_addresses - FIRST_HOST - 1 for count in counts):
        sys.exit("many_hosts: each host count must be between 3 and %d" % (NETWORK.num_addresses - FIRST_HOST - 1))
    settings = args.forks.split(",")
    # Ctrl-C or a kill: the finally blocks remove the hosts.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    results = []
    try:
        for count in counts:
            for setting in settings:
                forks = count if setting == "hosts" else int(setting)
                converge, rerun = measure(count, forks)
                results.append({"hosts": count, "forks": forks, "converge_s": round(converge, 1),
                                "rerun_s": round(rerun, 1)})
    except (BenchmarkError, subprocess.SubprocessError) as error:
        print("many_hosts: FAILED: %s" % error, file=sys.stderr)
        return 1
    print("\n| hosts | forks | first converge | no-op re-run | re-run per host |")
    print("|---|---|---|---|---|")
    for row in results:
        cells = (row["hosts"], row["forks"], row["converge_s"], row["rerun_s"], row["rerun_s"] / row["hosts"])
        print("| %d | %d | %.1f s | %.1f s | %.2f s |" % cells)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
