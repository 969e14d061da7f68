# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real Postfix servers for the relay_audit integration tests.

``lab_servers.py up`` builds and starts every server below, each a standalone
Postfix (``postfix -c DIR``) bound to its own address in 127.0.3.0/24, with
its state under /var/lib/mailrelay-audit-it/ and its log under
/var/log/mailrelay-audit-it/. ``lab_servers.py down`` stops them and removes
everything ``up`` created, including the loopback addresses it added.

The servers form two small topologies: a correctly closed one (inbound relay,
hub, submission) and a set of deliberately broken servers, each with one
mistake that relay_audit must catch. Every server's upstream smart host is
the capture address (127.0.3.200:2525), where relay_audit runs its capture
listener during an audit: whatever an open server relays ends up there.

Needs root, Postfix 3.x, openssl and the Cyrus SASL tools (saslpasswd2 with
the sasldb, PLAIN and LOGIN plugins).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time

STATE = "/var/lib/mailrelay-audit-it"
LOGS = "/var/log/mailrelay-audit-it"
ADDED_ADDRESSES = os.path.join(STATE, "added-addresses.json")

OWN_DOMAINS = ["own.example", "other.example"]
PROBE_ADDRESS = "127.0.3.2"  # the "Internet": a client no server trusts
CAPTURE = ("127.0.3.200", 2525)
USERS = {"alice@own.example": "alice-secret", "bob@own.example": "bob-secret"}

CLOSED_INBOUND = "127.0.3.10"
CLOSED_HUB = "127.0.3.11"
CLOSED_SUBMISSION = "127.0.3.12"

# name -> (address, port, kind, settings); kind picks the base template.
SERVERS = {
    # --- correctly closed topology -------------------------------------
    "inbound-closed": (CLOSED_INBOUND, 25, "inbound", {}),
    "hub-closed": (CLOSED_HUB, 25, "hub", {
        "mynetworks": "%s/32 %s/32" % (CLOSED_INBOUND, CLOSED_SUBMISSION),
    }),
    "submission-closed": (CLOSED_SUBMISSION, 587, "submission", {}),
    # --- broken servers --------------------------------------------------
    # An inbound relay that trusts the whole loopback network.
    "inbound-open-mynetworks": ("127.0.3.20", 25, "inbound", {
        "mynetworks": "127.0.0.0/8",
        # Open in every form: no recipient table refuses the routing tricks either.
        "relay_recipient_maps": "",
    }),
    # An inbound relay whose relay restriction lets everything through.
    # Postfix refuses to start with a bare "permit" there, but not with a
    # lookup that always answers OK.
    "inbound-permit-relay": ("127.0.3.21", 25, "inbound", {
        "smtpd_relay_restrictions": "permit_mynetworks, check_client_access static:OK, reject_unauth_destination",
    }),
    # An inbound relay that relays for anyone who claims an own-domain
    # sender: a classic "permit my users" mistake.
    "inbound-permit-own-sender": ("127.0.3.28", 25, "inbound", {
        "smtpd_relay_restrictions":
            "permit_mynetworks, check_sender_access texthash:$config_directory/own_senders, reject_unauth_destination",
    }),
    # A submission server that offers and accepts AUTH before STARTTLS.
    "submission-auth-plaintext": ("127.0.3.22", 587, "submission", {
        "smtpd_tls_auth_only": "no",
    }),
    # The closed submission server with Postfix's AUTH rate limit (anvil), for the brute-force
    # series; the closed one above has none and fails it.
    "submission-rate-limited": ("127.0.3.29", 587, "submission", {
        "smtpd_client_auth_rate_limit": "4",
        "smtpd_client_event_limit_exceptions": "",
    }),
    # A hub that trusts every host in 127.0.3.0/24, not just the relays.
    "hub-trusts-network": ("127.0.3.23", 25, "hub", {
        "mynetworks": "127.0.3.0/24",
    }),
    # An inbound relay that passes sender-routed recipients of its own
    # domains (user%foreign@own, foreign!user@own, "user@foreign"@own) on to
    # the next hop instead of refusing them - as a relay that checks only the
    # last domain does (IIS SMTP with a relay-enabled remote domain). Its
    # next hop for own.example rewrites percent and bang addresses and so
    # relays them; its next hop for other.example is strict and refuses.
    "inbound-domain-match": ("127.0.3.24", 25, "inbound", {
        "allow_untrusted_routing": "yes",
        # Every local part of the own domains, or the next hops never see the tricks.
        "relay_recipient_maps": "",
    }),
    "nexthop-rewrites": ("127.0.3.25", 25, "nexthop", {
        "mynetworks": "127.0.3.24/32",
        "allow_percent_hack": "yes",
        "swap_bangpath": "yes",
    }),
    "nexthop-strict": ("127.0.3.27", 25, "nexthop", {
        "mynetworks": "127.0.3.24/32",
        "allow_percent_hack": "no",
        "swap_bangpath": "no",
        "resolve_dequoted_address": "no",
        "local_recipient_maps": "texthash:$config_directory/local_recipients",
    }),
}

# Only these services run; every one with chroot off (no copies of
# resolv.conf and friends in the queue directory).
MASTER_SERVICES = [
    ("pickup", "unix", "n", "-", "n", "60", "1", "pickup"),
    ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
    ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
    ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
    ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
    ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
    ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
    ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
    ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
    ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
    ("error", "unix", "-", "-", "n", "-", "-", "error"),
    ("retry", "unix", "-", "-", "n", "-", "-", "error"),
    ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
    ("local", "unix", "-", "n", "n", "-", "-", "local"),
    ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
    ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
    ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
]


def base_settings(name, address, kind):
    """main.cf settings shared by every server, then the kind's own."""
    home = os.path.join(STATE, name)
    settings = {
        "compatibility_level": "3.6",
        "queue_directory": os.path.join(home, "queue"),
        "data_directory": os.path.join(home, "data"),
        "maillog_file": os.path.join(LOGS, name + ".log"),
        "inet_interfaces": address,
        "inet_protocols": "ipv4",
        "myhostname": name + ".audit-it.test",
        "mydomain": "audit-it.test",
        "myorigin": "$myhostname",
        "mydestination": "",
        "mynetworks": address + "/32",
        "smtp_bind_address": address,
        "relayhost": "[%s]:%d" % CAPTURE,
        # No DNS here: never look up client names or next hops.
        "smtpd_peername_lookup": "no",
        "smtp_dns_support_level": "disabled",
        "alias_maps": "",
        "alias_database": "",
        "biff": "no",
        # Retry quickly so that a test never waits on a long backoff.
        "queue_run_delay": "5s",
        "minimal_backoff_time": "5s",
        "maximal_backoff_time": "10s",
        "smtp_connect_timeout": "5s",
        "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
    }
    if kind == "inbound":
        settings.update({
            "relay_domains": " ".join(OWN_DOMAINS),
            # Own domains go to the closed hub.
            "transport_maps": "texthash:$config_directory/transport",
            # Edge hygiene: known recipients only, listed domains only (no subdomains),
            # nothing local (not even root@[own address]); plain postmaster is qualified
            # with an own domain.
            "relay_recipient_maps": "texthash:$config_directory/relay_recipients",
            "parent_domain_matches_subdomains": "debug_peer_list fast_flush_domains mynetworks",
            "local_recipient_maps": "texthash:$config_directory/no_local_recipients",
            "myorigin": OWN_DOMAINS[0],
            # ...which would turn an unqualified sender into an own-domain one.
            "smtpd_sender_restrictions": "reject_non_fqdn_sender",
        })
    elif kind == "hub":
        settings.update({
            "mydestination": " ".join(OWN_DOMAINS),
            # Known recipients only: not even root@[own address].
            "local_recipient_maps": "texthash:$config_directory/local_recipients",
            # Mail for own domains ends here: nothing to deliver in a test.
            "local_transport": "discard:delivered-on-hub",
        })
    elif kind == "nexthop":
        settings.update({
            "mydestination": " ".join(OWN_DOMAINS),
            "local_recipient_maps": "",
            "local_transport": "discard:delivered-on-next-hop",
        })
    elif kind == "submission":
        settings.update({
            "relayhost": "[%s]:25" % CLOSED_HUB,
            "smtpd_tls_cert_file": os.path.join(home, "conf", "cert.pem"),
            "smtpd_tls_key_file": os.path.join(home, "conf", "key.pem"),
            "smtpd_tls_security_level": "may",
            "smtpd_tls_auth_only": "yes",
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "cyrus",
            "smtpd_sasl_path": "smtpd",
            "cyrus_sasl_config_path": os.path.join(home, "conf", "sasl"),
            "smtpd_sasl_local_domain": "",
            "smtpd_sender_login_maps": "texthash:$config_directory/sender_logins",
            "smtpd_sender_restrictions": "reject_sender_login_mismatch",
            "smtpd_relay_restrictions": "permit_sasl_authenticated, reject",
            # Not even an authenticated user reaches root@[own address].
            "local_recipient_maps": "texthash:$config_directory/no_local_recipients",
        })
    return settings


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kwargs)


def loopback_addresses():
    out = run(["ip", "-4", "-o", "addr", "show", "dev", "lo"]).stdout
    return {line.split()[3].split("/")[0] for line in out.splitlines()}


def add_addresses():
    wanted = sorted({spec[0] for spec in SERVERS.values()} | {PROBE_ADDRESS, CAPTURE[0]})
    present = loopback_addresses()
    added = []
    for address in wanted:
        if address not in present:
            run(["ip", "addr", "add", address + "/32", "dev", "lo"])
            added.append(address)
    with open(ADDED_ADDRESSES, "w") as handle:
        json.dump(added, handle)


def write(path, text, mode=0o644, owner=None):
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(path, 0, entry.pw_gid)


def make_certificate(conf):
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=submission.audit-it.test",
         "-addext", "subjectAltName=DNS:submission.audit-it.test,IP:%s,IP:127.0.3.22" % CLOSED_SUBMISSION,
         "-keyout", os.path.join(conf, "key.pem"), "-out", os.path.join(conf, "cert.pem")])
    os.chmod(os.path.join(conf, "key.pem"), 0o600)


def build(name):
    address, port, kind, overrides = SERVERS[name]
    home = os.path.join(STATE, name)
    conf = os.path.join(home, "conf")
    os.makedirs(conf)
    os.makedirs(os.path.join(home, "queue"))
    data = os.path.join(home, "data")
    os.makedirs(data)
    postfix = pwd.getpwnam("postfix")
    os.chown(data, postfix.pw_uid, postfix.pw_gid)

    settings = base_settings(name, address, kind)
    settings.update(overrides)
    write(os.path.join(conf, "main.cf"), "".join("%s = %s\n" % item for item in sorted(settings.items())))
    smtpd = ("%s:%d" % (address, port), "inet", "n", "-", "n", "-", "-", "smtpd")
    write(os.path.join(conf, "master.cf"), "".join(
        "%-12s %-10s %-3s %-3s %-3s %-6s %-3s %s\n" % service for service in [smtpd] + MASTER_SERVICES))

    # Maps (texthash needs no postmap).
    if name == "inbound-domain-match":
        transport = "own.example smtp:[127.0.3.25]:25\nother.example smtp:[127.0.3.27]:25\n"
    else:
        transport = "".join("%s smtp:[%s]:25\n" % (domain, CLOSED_HUB) for domain in OWN_DOMAINS)
    write(os.path.join(conf, "transport"), transport)
    write(os.path.join(conf, "own_senders"), "".join("%s OK\n" % domain for domain in OWN_DOMAINS))
    write(os.path.join(conf, "local_recipients"),
          "".join("postmaster@%s x\n" % domain for domain in OWN_DOMAINS))
    write(os.path.join(conf, "relay_recipients"),
          "".join("postmaster@%s OK\n" % domain for domain in OWN_DOMAINS))
    write(os.path.join(conf, "no_local_recipients"), "")

    if kind == "submission":
        make_certificate(conf)
        write(os.path.join(conf, "sender_logins"), "".join("%s %s\n" % (user, user) for user in USERS))
        sasl = os.path.join(conf, "sasl")
        os.makedirs(sasl)
        sasldb = os.path.join(home, "sasldb2")
        write(os.path.join(sasl, "smtpd.conf"),
              "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n" % sasldb)
        for user, password in USERS.items():
            local, realm = user.split("@")
            subprocess.run(["saslpasswd2", "-p", "-c", "-f", sasldb, "-u", realm, local],
                           input=password, universal_newlines=True, check=True)
        os.chown(sasldb, 0, postfix.pw_gid)
        os.chmod(sasldb, 0o640)


def log_tail(name, lines=20):
    try:
        with open(os.path.join(LOGS, name + ".log")) as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_listening(address, port, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1) as conn:
                conn.recv(512)
                return True
        except OSError:
            time.sleep(0.2)
    return False


def up():
    if os.path.exists(STATE):
        down()
    os.makedirs(STATE)
    shutil.rmtree(LOGS, ignore_errors=True)
    os.makedirs(LOGS)
    add_addresses()
    for name in SERVERS:
        build(name)
    for name, (address, port, _kind, _settings) in SERVERS.items():
        conf = os.path.join(STATE, name, "conf")
        result = subprocess.run(["postfix", "-c", conf, "start"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        if result.returncode != 0:
            sys.exit("postfix %s failed to start: %s\n%s" % (name, result.stdout, log_tail(name)))
        if not wait_listening(address, port):
            sys.exit("postfix %s does not answer on %s:%d\n%s" % (name, address, port, log_tail(name)))
    print(json.dumps({name: "%s:%d" % spec[:2] for name, spec in SERVERS.items()}, indent=1))


def master_pid(name):
    try:
        with open(os.path.join(STATE, name, "queue", "pid", "master.pid")) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def down():
    for name in SERVERS:
        conf = os.path.join(STATE, name, "conf")
        if not os.path.exists(os.path.join(conf, "main.cf")):
            continue
        pid = master_pid(name)
        subprocess.run(["postfix", "-c", conf, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        deadline = time.monotonic() + 10
        while pid and process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    try:
        with open(ADDED_ADDRESSES) as handle:
            added = json.load(handle)
    except (OSError, ValueError):
        added = []
    for address in added:
        subprocess.run(["ip", "addr", "del", address + "/32", "dev", "lo"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    shutil.rmtree(STATE, ignore_errors=True)
    if not os.environ.get("RELAY_AUDIT_KEEP_LOGS"):
        shutil.rmtree(LOGS, ignore_errors=True)


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("up", "down"):
        sys.exit("usage: lab_servers.py up|down")
    if sys.argv[1] == "up":
        up()
    else:
        down()


if __name__ == "__main__":
    main()
