#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One-machine lab for the topology: loopback addresses, a self-signed
certificate and an upstream SMTP capture server that stands in for the Internet.

    lab.py prepare --collection DIR --state-dir DIR --address A [--address B ...]
                   --upstream HOST:PORT --cert FILE --key FILE --cn NAME [--san NAME ...]
    lab.py upstream-start|upstream-stop --collection DIR --state-dir DIR --upstream HOST:PORT
    lab.py clean --state-dir DIR --address A ... --cert FILE --key FILE
    lab.py empty-queues --state-dir DIR --instance NAME [--instance NAME ...]

Every command prints one JSON object: {"changed": [what it changed]}.
The upstream server writes each message it receives to STATE_DIR/upstream/
as <milliseconds>-<n>.eml (envelope in X-Lab-* headers); it accepts everything, keeps at
most 1000 messages and exits when stopped.
"""

import argparse
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

# Bounded waits: 50 x 0.1 s.
POLLS = 50


def _run(argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)


def _local_addresses():
    out = _run(["ip", "-o", "addr", "show", "dev", "lo"]).stdout
    return {line.split()[3].split("/")[0] for line in out.splitlines() if len(line.split()) > 3}


def ensure_addresses(addresses):
    present = _local_addresses()
    changed = []
    for address in addresses:
        if ipaddress.ip_address(address).version != 4:
            raise SystemExit("lab addresses are IPv4 loopback addresses; got %s" % address)
        if address not in present:
            result = _run(["ip", "addr", "add", address + "/32", "dev", "lo"])
            if result.returncode != 0:
                raise SystemExit("ip addr add %s failed: %s" % (address, result.stderr.strip()))
            changed.append("address %s added" % address)
    return changed


def remove_addresses(addresses):
    present = _local_addresses()
    changed = []
    for address in addresses:
        # 127.0.0.1 belongs to the loopback network itself; never remove it.
        if address in present and address != "127.0.0.1":
            _run(["ip", "addr", "del", address + "/32", "dev", "lo"])
            changed.append("address %s removed" % address)
    return changed


def _certificate_names(cert):
    """The DNS names of the certificate's subjectAltName (empty when it cannot be read)."""
    out = _run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", cert]).stdout
    return {part.strip()[4:] for part in out.replace("\n", ",").split(",") if part.strip().startswith("DNS:")}


def ensure_certificate(cert, key, common_name, names=()):
    """A self-signed certificate for the common name and every job's host name; it is also the lab's CA."""
    wanted = [common_name] + [name for name in names if name != common_name]
    replacing = os.path.exists(cert) and os.path.exists(key)
    if replacing and set(wanted) <= _certificate_names(cert):
        return []
    os.makedirs(os.path.dirname(cert), mode=0o755, exist_ok=True)
    os.makedirs(os.path.dirname(key), mode=0o700, exist_ok=True)
    result = _run([
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
        "-subj", "/CN=" + common_name, "-addext", "subjectAltName=" + ",".join("DNS:" + name for name in wanted),
        "-keyout", key, "-out", cert,
    ])
    if result.returncode != 0:
        raise SystemExit("openssl failed: %s" % result.stderr.strip())
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    changed = ["self-signed certificate %s created" % cert]
    if replacing:
        changed += _reload_instances_using(cert)
    return changed


def _reload_instances_using(cert):
    """Reload the running Postfix instances that serve ``cert``: idle smtpd processes keep the old one."""
    changed = []
    for line in _run(["postmulti", "-l", "-a"]).stdout.splitlines():
        name = line.split()[0] if line.split() else "-"
        if name == "-":
            continue
        served = _run(["postmulti", "-i", name, "-x", "postconf", "-h", "smtpd_tls_cert_file"]).stdout.strip()
        if served == cert and _run(["postmulti", "-i", name, "-p", "status"]).returncode == 0:
            if _run(["postmulti", "-i", name, "-p", "reload"]).returncode == 0:
                changed.append("%s reloaded for the new certificate" % name)
    return changed


def _pid_file(state_dir):
    return os.path.join(state_dir, "upstream.pid")


def _running_pid(state_dir):
    try:
        with open(_pid_file(state_dir)) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _serve(collection, state_dir, host, port):
    """Run the capture listener until SIGTERM; each message becomes one .eml file."""
    sys.path.insert(0, os.path.abspath(os.path.join(collection, "..", "..", "..")))
    from ansible_collections.mailrelay.smtp.plugins.module_utils import _smtp_capture

    spool = os.path.join(state_dir, "upstream")
    os.makedirs(spool, exist_ok=True)

    class SpoolListener(_smtp_capture.CaptureListener):
        def record(self, arrival):
            if not super().record(arrival):
                return False
            # Time first: names stay unique and ordered across restarts of the server.
            name = os.path.join(spool, "%d-%04d.eml" % (time.time() * 1000, len(self.arrivals())))
            envelope = "X-Lab-Peer: %s\nX-Lab-Mail-From: <%s>\nX-Lab-Rcpt-To: %s\n" % (
                arrival.peer, arrival.mail_from, ", ".join("<%s>" % r for r in arrival.rcpt_to))
            with open(name, "wb") as handle:
                handle.write(envelope.encode("utf-8") + arrival.data)
            return True

    listener = SpoolListener(host, port, hostname="upstream.lab.invalid")
    listener.start()
    stop = []
    signal.signal(signal.SIGTERM, lambda *args: stop.append(True))
    while not stop:
        time.sleep(0.2)
    listener.stop()


def start_upstream(collection, state_dir, upstream):
    if _running_pid(state_dir):
        return []
    host, port = upstream.rsplit(":", 1)
    os.makedirs(state_dir, exist_ok=True)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork():
            os._exit(0)
        with open(os.devnull, "r+b") as null:
            for fd in (0, 1, 2):
                os.dup2(null.fileno(), fd)
        with open(_pid_file(state_dir), "w") as handle:
            handle.write(str(os.getpid()))
        try:
            _serve(collection, state_dir, host, int(port))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    for dummy in range(POLLS):
        if _running_pid(state_dir) and _accepts(host, int(port)):
            return ["upstream capture server started on %s" % upstream]
        time.sleep(0.1)
    raise SystemExit("the upstream capture server did not start on %s" % upstream)


def _accepts(host, port):
    import socket

    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def stop_upstream(state_dir):
    pid = _running_pid(state_dir)
    if not pid:
        return []
    os.kill(pid, signal.SIGTERM)
    for dummy in range(POLLS):
        if not _running_pid(state_dir):
            os.unlink(_pid_file(state_dir))
            return ["upstream capture server stopped"]
        time.sleep(0.1)
    raise SystemExit("the upstream capture server (pid %d) did not stop" % pid)


# Every queue directory whose files make postfix_instance refuse to remove an instance.
QUEUE_SUBDIRS = ("maildrop", "incoming", "active", "deferred", "defer", "hold", "bounce",
                 "corrupt", "saved", "trace", "flush")


def empty_queues(instances):
    """Stop each existing lab instance and delete every message it still holds.

    Only for the lab's own instances: postfix_instance rightly refuses to remove an
    instance with queued mail, and after an audit the lab hub holds bounces and retries.
    """
    listed = _run(["postmulti", "-l", "-a"]).stdout.split()
    changed = []
    for name in instances:
        if name not in listed:
            continue
        queue = _run(["postmulti", "-i", name, "-x", "postconf", "-h", "queue_directory"]).stdout.strip()
        if not queue.startswith("/"):
            raise SystemExit("cannot read the queue directory of %s" % name)
        if _run(["postmulti", "-i", name, "-p", "status"]).returncode == 0:
            result = _run(["postmulti", "-i", name, "-p", "stop"])
            if result.returncode != 0:
                raise SystemExit("postmulti -i %s -p stop failed: %s" % (name, result.stderr.strip()))
            changed.append("%s stopped" % name)
        removed = 0
        for sub in QUEUE_SUBDIRS:
            for directory, _dirs, files in os.walk(os.path.join(queue, sub)):
                for file_name in files:
                    os.unlink(os.path.join(directory, file_name))
                    removed += 1
        if removed:
            changed.append("%d queued file(s) of %s deleted" % (removed, name))
    return changed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["prepare", "upstream-start", "upstream-stop", "clean", "empty-queues"])
    parser.add_argument("--collection")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--address", action="append", default=[])
    parser.add_argument("--upstream")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--cn", default="mail.lab.invalid")
    parser.add_argument("--san", action="append", default=[])
    parser.add_argument("--instance", action="append", default=[])
    args = parser.parse_args()

    changed = []
    if args.command == "prepare":
        changed += ensure_addresses(args.address)
        changed += ensure_certificate(args.cert, args.key, args.cn, args.san)
        changed += start_upstream(args.collection, args.state_dir, args.upstream)
    elif args.command == "upstream-start":
        changed += start_upstream(args.collection, args.state_dir, args.upstream)
    elif args.command == "upstream-stop":
        changed += stop_upstream(args.state_dir)
    elif args.command == "empty-queues":
        changed += empty_queues(args.instance)
    else:
        changed += stop_upstream(args.state_dir)
        for path in (args.cert, args.key):
            if path and os.path.exists(path):
                os.unlink(path)
                changed.append("%s removed" % path)
        changed += remove_addresses(args.address)
    print(json.dumps({"changed": changed}))


if __name__ == "__main__":
    main()
