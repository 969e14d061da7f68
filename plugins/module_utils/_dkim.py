# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DKIM signing with OpenDKIM beside a Postfix hub: key names, files and configuration.

OpenDKIM processes beside each hub instance (one per algorithm: OpenDKIM
signs with one algorithm per process) sign, as milters, the mail that the
trusted relay clients (the submission servers) and the hub itself hand over,
for every own domain, with every key of the active selector (RSA, and Ed25519
in addition). Mail from anyone else (the inbound relays: the Internet) passes
unsigned. Keys of selectors that are published but not active stay on the
host, so rotation is: add a selector, publish it, make it active, and remove
the old one later.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import base64
import ipaddress
import re

ALGORITHMS = ("rsa", "ed25519")
RSA_BITS = 2048
DEFAULT_PORT = 8891
KEY_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# Ed25519 SubjectPublicKeyInfo DER: a fixed 12-byte prefix, then the 32-byte key (RFC 8410).
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
# Local mail of the hub (sendmail, bounces) reaches non_smtpd_milters as 127.0.0.1.
LOCAL_SUBMITTER = "127.0.0.1"


def key_selector(selector, algorithm, hub_hostname):
    """The DNS selector of one key: per hub host (keys never leave it) and per algorithm.

    ``mailrelay1`` on ``hub.example.org`` gives ``mailrelay1-hub`` (RSA) and
    ``mailrelay1-hub-ed25519``.
    """
    name = "%s-%s" % (selector, hub_hostname.split(".")[0])
    return name if algorithm == "rsa" else "%s-%s" % (name, algorithm)


def paths(name, config_dir="/etc/mailrelay/opendkim"):
    """Where the signers of instance ``name`` keep their shared files."""
    base = "%s/%s" % (config_dir.rstrip("/"), name)
    return {
        "dir": base,
        "internal_hosts": base + "/internal.hosts",
        "keys": base + "/keys",
        "run_dir": "/run/mailrelay-opendkim-%s" % name,
    }


def signer_paths(where, name, algorithm):
    """The files of the signer of one algorithm.

    OpenDKIM signs with one algorithm per process (its SignatureAlgorithm is
    global), so RSA and Ed25519 are two processes, two milters in a row.
    """
    suffix = "" if algorithm == "rsa" else "-" + algorithm
    return {
        "algorithm": algorithm,
        "config": "%s/opendkim%s.conf" % (where["dir"], suffix),
        "key_table": "%s/key%s.table" % (where["dir"], suffix),
        "signing_table": "%s/signing%s.table" % (where["dir"], suffix),
        "internal_hosts": where["internal_hosts"],
        "pid": "%s/opendkim%s.pid" % (where["run_dir"], suffix),
        "unit": "mailrelay-opendkim-%s%s.service" % (name, suffix),
    }


def signer_port(port, algorithm):
    """RSA listens on ``port``, Ed25519 on the next one."""
    return port + ALGORITHMS.index(algorithm)


def key_path(where, selector):
    return "%s/%s.private" % (where["keys"], selector)


def algorithms_of(keys):
    """The algorithms that have a signer: those with at least one key, in ALGORITHMS order."""
    return [algorithm for algorithm in ALGORITHMS if any(key["algorithm"] == algorithm for key in keys)]


def milter(address, port, algorithms=("rsa",)):
    """The Postfix milter list of the signers, one per algorithm."""
    host = ipaddress.ip_address(address)
    host = "[%s]" % host if host.version == 6 else str(host)
    return ", ".join("inet:%s:%d" % (host, signer_port(port, algorithm)) for algorithm in algorithms)


def postfix_parameters(signer):
    """main.cf parameters of a hub: the milters when ``signer`` is set, removed (None) otherwise."""
    if not signer:
        return {"smtpd_milters": None, "non_smtpd_milters": None, "milter_default_action": None}
    return {
        "smtpd_milters": signer,
        # Mail written on the hub itself (sendmail, notices) is signed too.
        "non_smtpd_milters": "$smtpd_milters",
        # No unsigned mail slips out while a signer is down: it waits in the queue.
        "milter_default_action": "tempfail",
    }


def validate(keys, domains, internal_hosts, port):
    """Problems with the module's input, each naming its option; an empty list when all is well."""
    problems = []
    seen = set()
    if not keys:
        problems.append("keys: at least one key is needed")
    for index, key in enumerate(keys):
        if not KEY_SELECTOR.match(key.get("key_selector") or ""):
            problems.append("keys[%d].key_selector: %r is not a DNS label" % (index, key.get("key_selector")))
        elif key["key_selector"] in seen:
            problems.append("keys[%d].key_selector: %s is listed twice" % (index, key["key_selector"]))
        seen.add(key.get("key_selector"))
        if key.get("algorithm") not in ALGORITHMS:
            problems.append("keys[%d].algorithm: %r is not one of %s" % (index, key.get("algorithm"), ", ".join(ALGORITHMS)))
    if keys and not any(key.get("active") for key in keys):
        problems.append("keys: no key is active; mark the keys of the signing selector with active: true")
    if not domains:
        problems.append("domains: at least one domain to sign for is needed")
    for index, domain in enumerate(domains):
        if not re.match(r"^[a-z0-9.-]+\.[a-z]{2,63}$", domain or ""):
            problems.append("domains[%d]: %r is not a domain name" % (index, domain))
    for index, host in enumerate(internal_hosts):
        try:
            ipaddress.ip_network(host, strict=False)
        except ValueError:
            problems.append("internal_hosts[%d]: %r is not an address or network" % (index, host))
    if not 0 < port < 65535:
        problems.append("port: %d is not a TCP port" % port)
    return problems


def render_config(signer, address, port, user="opendkim"):
    """opendkim.conf of one signer: sign only (no verification), relaxed canonicalisation."""
    lines = [
        "# Managed by mailrelay.smtp.opendkim: DKIM signing (%s) for a Postfix hub." % signer["algorithm"],
        "Mode s",
        "Socket inet:%d@%s" % (signer_port(port, signer["algorithm"]), address),
        "PidFile %s" % signer["pid"],
        "UserID %s" % user,
        "UMask 007",
        "Syslog yes",
        "Canonicalization relaxed/relaxed",
        "SignatureAlgorithm %s" % ("rsa-sha256" if signer["algorithm"] == "rsa" else "ed25519-sha256"),
        # Two selectors may be active for a moment during a rotation: sign with every matching key.
        "MultipleSignatures yes",
        # A From: header added after signing would break the signature: sign its absence too.
        "OversignHeaders From",
        "KeyTable file:%s" % signer["key_table"],
        "SigningTable refile:%s" % signer["signing_table"],
        # Only mail these clients hand over is signed; the Internet's mail for us is not.
        "InternalHosts file:%s" % signer["internal_hosts"],
        "",
    ]
    return "\n".join(lines)


def render_key_table(where, keys):
    """One line per active key; ``%`` signs as the domain of the message's From: address."""
    return "".join("%s %%:%s:%s\n" % (key["key_selector"], key["key_selector"], key_path(where, key["key_selector"])) for key in keys if key.get("active"))


def render_signing_table(domains, keys):
    active = [key["key_selector"] for key in keys if key.get("active")]
    return "".join("*@%s %s\n" % (domain, selector) for domain in domains for selector in active)


def render_internal_hosts(internal_hosts):
    hosts = [LOCAL_SUBMITTER] + [host for host in internal_hosts if host != LOCAL_SUBMITTER]
    return "".join("%s\n" % host for host in hosts)


def render_unit(name, signer):
    """A systemd unit, so the signer comes back after a reboot on systemd hosts."""
    config_path = signer["config"]
    return "\n".join([
        "# Managed by mailrelay.smtp.opendkim",
        "[Unit]",
        "Description=OpenDKIM %s signer for Postfix (%s)" % (signer["algorithm"], name),
        "After=network.target",
        "Before=postfix.service",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=/usr/sbin/opendkim -f -x %s" % config_path,
        "ExecReload=/bin/kill -USR1 $MAINPID",
        "Restart=on-failure",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def public_key(algorithm, pem):
    """The DKIM ``p=`` value of a public key in PEM (SubjectPublicKeyInfo).

    RSA publishes the whole SubjectPublicKeyInfo (RFC 6376 3.6.1); Ed25519 only
    the 32 bytes of the key itself (RFC 8463 4.2).
    """
    body = "".join(line.strip() for line in pem.splitlines() if line.strip() and not line.startswith("-----"))
    der = base64.b64decode(body)
    if algorithm == "ed25519":
        if not der.startswith(_ED25519_SPKI_PREFIX) or len(der) != len(_ED25519_SPKI_PREFIX) + 32:
            raise ValueError("not an Ed25519 public key")
        return base64.b64encode(der[len(_ED25519_SPKI_PREFIX):]).decode("ascii")
    return base64.b64encode(der).decode("ascii")


def generate_command(algorithm, path):
    """The openssl command that writes a new private key to ``path`` (PKCS#8 PEM)."""
    if algorithm == "rsa":
        return ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % RSA_BITS, "-out", path]
    return ["openssl", "genpkey", "-algorithm", "ED25519", "-out", path]


def hub_signing(topology, hub):
    """The ``hub_dkim`` role variable of one hub server, or None without ``dkim``."""
    dkim = topology.get("dkim")
    if not dkim or hub["platform"] != "postfix":
        return None
    keys = [
        {
            "key_selector": key_selector(selector, algorithm, hub["hostname"]),
            "selector": selector,
            "algorithm": algorithm,
            "active": selector == dkim["active"],
        }
        for selector in dkim["selectors"]
        for algorithm in dkim["algorithms"]
    ]
    return {"keys": keys, "address": "127.0.0.1", "port": DEFAULT_PORT, "milter": milter("127.0.0.1", DEFAULT_PORT, algorithms_of(keys))}
