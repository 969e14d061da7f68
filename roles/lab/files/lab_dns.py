# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's DNS and its independent verifiers (docs/dns.md).

  lab_dns.py serve  --records records.yml --listen ADDR [--port 53] --state-dir DIR [--change NAME=TEXT]
  lab_dns.py stop   --state-dir DIR                                 (also removes the address serve added)
  lab_dns.py dkim   --nameserver ADDR [--port 53] MESSAGE...      (dkimpy verifies every signature)
  lab_dns.py spf    --nameserver ADDR [--port 53] --ip IP --sender ADDRESS --helo NAME   (pyspf)

``serve`` runs Debian's dnsmasq with exactly the records mailrelay.smtp.dns_records
derived, authoritative (NXDOMAIN for anything else) for their domains.
``--change NAME=TEXT`` serves TEXT instead of the derived TXT record at NAME,
so a test can publish one wrong record. ``dkim`` and ``spf`` print one JSON
line per check and exit 1 when any does not pass. They need dnspython,
dkimpy (with PyNaCl for Ed25519) and pyspf: run them with the controller's
Python (the project's .venv).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time


def _load(path):
    import yaml

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["records"]


def _quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def dnsmasq_options(records, changes=None):
    """dnsmasq options that serve ``records`` and nothing else."""
    changes = changes or {}
    options = []
    zones = set()
    addresses = {}
    for record in records:
        name = record["name"]
        if record["type"] in ("A", "AAAA"):
            addresses.setdefault(name, []).append(record["value"])
    for name, values in addresses.items():
        # host-record also answers the reverse (PTR) lookups of the addresses.
        options.append("--host-record=%s,%s" % (name, ",".join(values)))
        zones.add(name.split(".", 1)[1])
    for record in records:
        name, rtype, value = record["name"], record["type"], record["value"]
        if rtype == "MX":
            preference, target = value.split()
            options.append("--mx-host=%s,%s,%s" % (name, target.rstrip("."), preference))
            zones.add(name)
        elif rtype == "TXT":
            strings = [changes[name]] if name in changes else record["strings"]
            options.append("--txt-record=%s,%s" % (name, ",".join(_quote(piece) for piece in strings)))
            zones.add(record.get("domain") or name)
        elif rtype == "PTR":
            reverse = {str(ipaddress.ip_address(a)) for v in addresses.values() for a in v}
            if not any(ipaddress.ip_address(a).reverse_pointer == name for a in reverse):
                options.append("--ptr-record=%s,%s" % (name, value.rstrip(".")))
    for zone in sorted(zones) + ["in-addr.arpa", "ip6.arpa"]:
        # Authoritative for these: a name not served gets NXDOMAIN, not REFUSED.
        options.append("--local=/%s/" % zone)
    return options


def _ensure_address(address, state_dir):
    """Put ``address`` on lo unless some interface has it; remember it for stop."""
    shown = subprocess.run(["ip", "-o", "addr", "show"], check=True, capture_output=True, text=True).stdout
    if (" %s/" % address) in shown:
        return
    prefix = 32 if ipaddress.ip_address(address).version == 4 else 128
    subprocess.run(["ip", "addr", "add", "%s/%d" % (address, prefix), "dev", "lo"], check=True)
    with open(os.path.join(state_dir, "address"), "w", encoding="ascii") as handle:
        handle.write(address)


def serve(args):
    stop(args)
    os.makedirs(args.state_dir, exist_ok=True)
    _ensure_address(args.listen, args.state_dir)
    changes = dict(change.split("=", 1) for change in args.change)
    pid_file = os.path.join(args.state_dir, "dnsmasq.pid")
    # A configuration file, not arguments: only there does dnsmasq read quoted TXT strings.
    conf = os.path.join(args.state_dir, "dnsmasq.conf")
    with open(conf, "w", encoding="utf-8") as handle:
        handle.write("".join("%s\n" % option[2:] for option in dnsmasq_options([record for path in args.records for record in _load(path)], changes)))
    argv = [
        "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
        "--listen-address=%s" % args.listen, "--port=%d" % args.port, "--pid-file=%s" % pid_file,
        "--log-facility=%s" % os.path.join(args.state_dir, "dnsmasq.log"), "--log-queries",
        "--local-ttl=300", "--conf-file=%s" % conf,
    ]
    with open(os.devnull, "r+b") as null:
        process = subprocess.Popen(argv, stdin=null, stdout=null, stderr=subprocess.PIPE, start_new_session=True)
    with open(pid_file + ".lab", "w", encoding="ascii") as handle:
        handle.write(str(process.pid))
    # Bounded wait until it answers: 50 x 0.1 s.
    for dummy in range(50):
        if process.poll() is not None:
            sys.exit("dnsmasq exited: %s" % process.stderr.read().decode("utf-8", "replace"))
        if _answers(args.listen, args.port):
            print(json.dumps({"serving": args.listen, "port": args.port, "pid": process.pid, "options": len(argv)}))
            return
        time.sleep(0.1)
    sys.exit("dnsmasq did not answer on %s:%d" % (args.listen, args.port))


def _answers(address, port):
    import dns.exception
    import dns.message
    import dns.query

    try:
        dns.query.udp(dns.message.make_query("mailrelay-lab.invalid", "A"), address, port=port, timeout=0.2)
    except (dns.exception.Timeout, OSError):
        return False
    return True


def stop(args, keep_address=True):
    _stop_dnsmasq(os.path.join(args.state_dir, "dnsmasq.pid.lab"))
    address_file = os.path.join(args.state_dir, "address")
    if not keep_address and os.path.exists(address_file):
        with open(address_file, encoding="ascii") as handle:
            address = handle.read().strip()
        prefix = 32 if ipaddress.ip_address(address).version == 4 else 128
        subprocess.run(["ip", "addr", "del", "%s/%d" % (address, prefix), "dev", "lo"], check=False, capture_output=True)
        os.unlink(address_file)


def _stop_dnsmasq(pid_file):
    try:
        with open(pid_file, encoding="ascii") as handle:
            pid = int(handle.read().strip())
    except (FileNotFoundError, ValueError):
        return
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            if b"dnsmasq" not in handle.read():
                raise ProcessLookupError
        os.kill(pid, signal.SIGTERM)
        # Bounded wait until it is gone: 50 x 0.1 s.
        for dummy in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
    except (FileNotFoundError, ProcessLookupError):
        pass
    os.unlink(pid_file)


def _resolver(args):
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [args.nameserver]
    resolver.port = args.port
    resolver.lifetime = 5
    return resolver


def verify_dkim(args):
    """Every DKIM-Signature of each message, verified by dkimpy against the lab DNS."""
    import dkim
    import dns.resolver

    resolver = _resolver(args)

    def dnsfunc(name, timeout=5):
        try:
            answer = resolver.resolve(name.decode("ascii") if isinstance(name, bytes) else name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return b""
        return b"".join(answer.rrset[0].strings)

    ok = True
    for path in args.messages:
        with open(path, "rb") as handle:
            message = handle.read()
        verifier = dkim.DKIM(message)
        count = sum(1 for header in verifier.headers if header[0].lower() == b"dkim-signature")
        results = []
        for index in range(count):
            reason = ""
            try:
                passed = bool(verifier.verify(idx=index, dnsfunc=dnsfunc))
            except dkim.DKIMException as exc:
                passed, reason = False, str(exc)
            results.append({
                "index": index,
                "pass": passed,
                "reason": reason,
                "domain": (verifier.domain or b"").decode(),
                "selector": (verifier.selector or b"").decode(),
                "algorithm": (verifier.signature_fields or {}).get(b"a", b"").decode(),
            })
        passed = bool(results) and all(result["pass"] for result in results)
        ok = ok and passed
        print(json.dumps({"message": path, "pass": passed, "signatures": results}))
    return 0 if ok else 1


def check_spf(args):
    import spf

    resolver = _resolver(args)

    def lookup(name, qtype, tcpfallback=True, timeout=30):
        # The shape of pyspf's own dnspython lookup, asking the lab DNS.
        import dns.resolver

        try:
            answer = resolver.resolve(name, qtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        results = []
        for rdata in answer:
            if qtype in ("A", "AAAA"):
                results.append(((name, qtype), rdata.address))
            elif qtype == "MX":
                results.append(((name, qtype), (rdata.preference, rdata.exchange)))
            elif qtype == "PTR":
                results.append(((name, qtype), rdata.target.to_text(True)))
            else:
                results.append(((name, qtype), rdata.strings))
        return results

    spf.DNSLookup = lookup
    result, explanation = spf.check2(i=args.ip, s=args.sender, h=args.helo)
    print(json.dumps({"ip": args.ip, "sender": args.sender, "result": result, "explanation": explanation}))
    return 0 if result == "pass" else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve", "stop", "dkim", "spf"])
    # Several files: the derived records, plus whatever else the lab's DNS stands for (an outside domain).
    parser.add_argument("--records", action="append", default=[])
    parser.add_argument("--listen")
    parser.add_argument("--nameserver")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--state-dir")
    parser.add_argument("--change", action="append", default=[])
    parser.add_argument("--ip")
    parser.add_argument("--sender")
    parser.add_argument("--helo")
    parser.add_argument("messages", nargs="*")
    args = parser.parse_intermixed_args()
    if args.command == "serve":
        serve(args)
    elif args.command == "stop":
        stop(args, keep_address=False)
    elif args.command == "dkim":
        sys.exit(verify_dkim(args))
    else:
        sys.exit(check_spf(args))


if __name__ == "__main__":
    main()
