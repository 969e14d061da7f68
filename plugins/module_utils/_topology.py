# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The topology description: validation and derived wiring.

One description (``mailrelay_topology``) names the own domains, which
inventory host serves which job, and the settings of each job. This module
checks it completely before anything is deployed, and derives what must never
be typed twice:

- the next hop of the submission servers and inbound relays is the hub
  (bracketed, so no MX lookup happens);
- the hub's relay allow-list is the addresses of the submission servers, and
  it knows the inbound relays' addresses.

It then hands each host the role variables of the jobs it serves
(``submission_*``, ``inbound_relay_*``, ``hub_*``), platform-neutral, so the
same description drives Postfix, IIS SMTP and Exchange.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dovecot_sasl
from ansible_collections.mailrelay.smtp.plugins.module_utils import _publishing

JOBS = ("submission", "inbound_relay", "hub")
TOP_LEVEL_KEYS = frozenset(JOBS + ("domains", "tls", "outbound", "publishing"))
PLATFORMS = {
    "submission": ("postfix", "iis"),
    "inbound_relay": ("postfix", "iis"),
    "hub": ("postfix", "exchange"),
}
DEFAULT_PORTS = {"submission": 587, "inbound_relay": 25, "hub": 25}
# Who forwards to the hub: both must reach it.
FORWARDING_JOBS = ("submission", "inbound_relay")
DEFAULT_PLACEHOLDER_DOMAIN = "submission.invalid"
OUTBOUND_METHODS = ("dns", "smarthost")
SMARTHOST_TLS = ("none", "may", "encrypt")

SERVER_KEYS = frozenset(("host", "address", "port", "hostname", "platform", "instance"))
JOB_KEYS = {
    "submission": frozenset(("servers", "users", "tls", "placeholder_domain", "max_message_size")),
    "inbound_relay": frozenset(("servers", "recipients", "tls", "max_message_size")),
    "hub": frozenset(("servers", "mailboxes", "tls", "max_message_size")),
}
USER_KEYS = frozenset(("login", "password", "senders"))
TLS_KEYS = frozenset(("cert_file", "key_file"))
OUTBOUND_KEYS = frozenset(("method", "smarthost", "dns_servers"))
SMARTHOST_KEYS = frozenset(("host", "port", "tls", "username", "password"))

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_INSTANCE = re.compile(r"^postfix(-[a-z0-9][a-z0-9_-]*)?$")


class TopologyError(ValueError):
    """Every problem found in a description; each message starts with the field it is about."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("invalid topology description:\n- " + "\n- ".join(self.problems))


class _Problems:
    def __init__(self):
        self.items = []

    def add(self, field, message):
        self.items.append("%s: %s" % (field, message))


def is_domain(text):
    """A fully qualified mail domain: LDH labels, at least two, no trailing dot."""
    if not isinstance(text, str) or not text or len(text) > 253 or text != text.strip():
        return False
    labels = text.lower().split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def is_address(text):
    """A mail address local@domain with a plain (unquoted) local part and an FQDN."""
    if not isinstance(text, str) or text.count("@") != 1:
        return False
    local, domain = text.split("@")
    return bool(_LOCAL_PART.match(local)) and not local.startswith(".") and ".." not in local and is_domain(domain)


def _listen_address(value):
    """Parse a listen address: one unicast IP address (never 'all')."""
    address = ipaddress.ip_address(str(value).strip("[]"))
    if address.is_unspecified or address.is_multicast:
        raise ValueError("must be one unicast address, not %s" % value)
    return address


def _check_keys(problems, field, value, allowed):
    for key in sorted(set(value) - allowed):
        problems.add("%s.%s" % (field, key) if field else key, "unknown key; known keys are %s" % ", ".join(sorted(allowed)))


def _as_list(problems, field, value):
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(field, "must be a list")
        return []
    return value


def _port(problems, field, value, default):
    if value is None:
        return default
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536 or isinstance(value, bool):
        problems.add(field, "must be a TCP port between 1 and 65535, got %r" % (value,))
        return default
    return port


def _tls(problems, field, value):
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add(field, "must be a mapping with cert_file and key_file")
        return None
    _check_keys(problems, field, value, TLS_KEYS)
    for key in sorted(TLS_KEYS):
        if not isinstance(value.get(key), str) or not value.get(key):
            problems.add("%s.%s" % (field, key), "required (path of the PEM file on the host)")
    return {key: value.get(key) for key in sorted(TLS_KEYS)}


def _default_instance(job, platform):
    if platform == "postfix":
        return "postfix-" + job.replace("_", "-")
    if platform == "iis":
        return "mailrelay " + job.replace("_", " ")
    return "mailrelay relay"


def _servers(problems, job, spec, domains, inventory_hosts):
    servers = []
    field = "%s.servers" % job
    raw = _as_list(problems, field, spec.get("servers"))
    if not raw:
        problems.add(field, "required: at least one server (host and address)")
    for index, server in enumerate(raw):
        where = "%s[%d]" % (field, index)
        if not isinstance(server, dict):
            problems.add(where, "must be a mapping with host and address")
            continue
        _check_keys(problems, where, server, SERVER_KEYS)
        host = server.get("host")
        if not isinstance(host, str) or not host:
            problems.add(where + ".host", "required (an inventory hostname)")
        elif inventory_hosts is not None and host not in inventory_hosts:
            problems.add(where + ".host", "%r is not in the inventory" % host)
        address = None
        if server.get("address") in (None, ""):
            problems.add(where + ".address", "required (the one address this job listens on)")
        else:
            try:
                address = _listen_address(server["address"])
            except ValueError as exc:
                problems.add(where + ".address", "%r is not a listen address: %s" % (server["address"], exc))
        platform = server.get("platform", "postfix")
        if platform not in PLATFORMS[job]:
            problems.add(where + ".platform", "%r cannot serve %s; choose one of %s" % (platform, job, ", ".join(PLATFORMS[job])))
            platform = "postfix"
        hostname = server.get("hostname") or "%s.%s" % (job.replace("_", "-"), domains[0] if domains else "invalid")
        if not is_domain(hostname):
            problems.add(where + ".hostname", "%r is not a fully qualified host name" % hostname)
        instance = server.get("instance") or _default_instance(job, platform)
        if platform == "postfix" and not _INSTANCE.match(str(instance)):
            problems.add(where + ".instance", "%r is not a Postfix instance name (postfix or postfix-NAME)" % instance)
        servers.append({
            "field": where,
            "job": job,
            "host": host,
            "address": str(address) if address else None,
            "loopback": bool(address and address.is_loopback),
            "port": _port(problems, where + ".port", server.get("port"), DEFAULT_PORTS[job]),
            "hostname": hostname.lower() if isinstance(hostname, str) else hostname,
            "platform": platform,
            "instance": instance,
        })
    return servers


def _domains(problems, value):
    domains = []
    seen = set()
    raw = _as_list(problems, "domains", value)
    if not raw:
        problems.add("domains", "required: at least one own mail domain")
    for index, domain in enumerate(raw):
        if not is_domain(domain):
            problems.add("domains[%d]" % index, "%r is not a domain name" % (domain,))
            continue
        domain = domain.lower()
        if domain in seen:
            problems.add("domains[%d]" % index, "%s is listed twice" % domain)
        seen.add(domain)
        domains.append(domain)
    return domains


def _own_address(problems, field, value, domains):
    if not is_address(value):
        problems.add(field, "%r is not a mail address" % (value,))
        return None
    local, domain = value.split("@")
    if domain.lower() not in domains:
        problems.add(field, "%s is not in one of the own domains" % value)
        return None
    return "%s@%s" % (local, domain.lower())


def _own_addresses(problems, field, value, domains):
    """The valid addresses of the list ``value``; each bad item is reported as ``field[index]``."""
    items = _as_list(problems, field, value)
    addresses = (_own_address(problems, "%s[%d]" % (field, index), item, domains) for index, item in enumerate(items))
    return [address for address in addresses if address]


def _users(problems, spec, domains):
    users = []
    logins = set()
    raw = _as_list(problems, "submission.users", spec.get("users"))
    if not raw:
        problems.add("submission.users", "required: at least one user who may authenticate")
    for index, user in enumerate(raw):
        where = "submission.users[%d]" % index
        if not isinstance(user, dict):
            problems.add(where, "must be a mapping with login and password")
            continue
        _check_keys(problems, where, user, USER_KEYS)
        login = user.get("login")
        # The logins end up in Dovecot's passwd-file (Postfix submission): its rules apply.
        if not _dovecot_sasl.valid_login(login):
            problems.add(where + ".login", "required: letters, digits and . _ @ + - only")
        elif login in logins:
            problems.add(where + ".login", "%s is listed twice" % login)
        logins.add(login)
        if not isinstance(user.get("password"), str) or not user.get("password"):
            problems.add(where + ".password", "required")
        senders = user.get("senders")
        if senders is None:
            senders = [login] if is_address(login) else []
            if not senders:
                problems.add(where + ".senders", "required when the login is not a mail address")
        senders = _own_addresses(problems, where + ".senders", senders, domains)
        users.append({"login": login, "password": user.get("password"), "senders": senders})
    return users


def _outbound(problems, value):
    value = value or {}
    if not isinstance(value, dict):
        problems.add("outbound", "must be a mapping")
        return {"method": "dns", "smarthost": None, "dns_servers": []}
    _check_keys(problems, "outbound", value, OUTBOUND_KEYS)
    method = value.get("method", "smarthost" if value.get("smarthost") else "dns")
    if method not in OUTBOUND_METHODS:
        problems.add("outbound.method", "%r is not one of %s" % (method, ", ".join(OUTBOUND_METHODS)))
    smarthost = None
    if method == "smarthost":
        raw = value.get("smarthost")
        if not isinstance(raw, dict) or not raw.get("host"):
            problems.add("outbound.smarthost.host", "required when outbound.method is smarthost")
        else:
            _check_keys(problems, "outbound.smarthost", raw, SMARTHOST_KEYS)
            host = str(raw["host"]).strip("[]")
            try:
                ipaddress.ip_address(host)
            except ValueError:
                if not is_domain(host):
                    problems.add("outbound.smarthost.host", "%r is neither an address nor a host name" % raw["host"])
            tls = raw.get("tls", "may")
            if tls not in SMARTHOST_TLS:
                problems.add("outbound.smarthost.tls", "%r is not one of %s" % (tls, ", ".join(SMARTHOST_TLS)))
            if bool(raw.get("username")) != bool(raw.get("password")):
                problems.add("outbound.smarthost", "username and password go together")
            if raw.get("password") and tls != "encrypt":
                problems.add("outbound.smarthost.tls", "must be encrypt when a password is sent to the smart host")
            smarthost = {
                "host": host,
                "port": _port(problems, "outbound.smarthost.port", raw.get("port"), 25),
                "tls": tls,
                "username": raw.get("username"),
                "password": raw.get("password"),
            }
    dns_servers = []
    for index, server in enumerate(_as_list(problems, "outbound.dns_servers", value.get("dns_servers"))):
        try:
            dns_servers.append(str(ipaddress.ip_address(server)))
        except ValueError:
            problems.add("outbound.dns_servers[%d]" % index, "%r is not an IP address" % (server,))
    return {"method": method, "smarthost": smarthost, "dns_servers": dns_servers}


def _check_wiring(problems, servers):
    by_address = {}
    by_host_job = {}
    by_host_instance = {}
    for server in servers:
        if server["address"]:
            other = by_address.setdefault(server["address"], server)
            if other is not server:
                problems.add(server["field"] + ".address", "%s is already the listen address of %s" % (server["address"], other["field"]))
        if server["host"]:
            other = by_host_job.setdefault((server["host"], server["job"]), server)
            if other is not server:
                problems.add(server["field"] + ".host", "%s already serves %s (%s)" % (server["host"], server["job"], other["field"]))
                continue
            other = by_host_instance.setdefault((server["host"], server["instance"]), server)
            if other is not server:
                problems.add(server["field"] + ".instance", "%s is already used on %s by %s" % (server["instance"], server["host"], other["field"]))

    hubs = [server for server in servers if server["job"] == "hub"]
    for hub in hubs:
        if not hub["loopback"]:
            continue
        for sender in servers:
            if sender["job"] in FORWARDING_JOBS and sender["host"] != hub["host"]:
                problems.add(
                    hub["field"] + ".address",
                    "%s is a loopback address of %s, which %s on %s cannot reach" % (hub["address"], hub["host"], sender["field"], sender["host"]),
                )


def normalize(description, inventory_hosts=None):
    """Validate ``description`` completely; return its normalised form or raise TopologyError.

    ``inventory_hosts`` (optional) are the inventory hostnames every
    ``servers[].host`` must belong to.
    """
    if inventory_hosts is not None:
        inventory_hosts = set(inventory_hosts)
    problems = _Problems()
    if not isinstance(description, dict):
        raise TopologyError(["mailrelay_topology: must be a mapping"])
    for key in sorted(set(description) - TOP_LEVEL_KEYS):
        problems.add(key, "unknown job; known jobs are %s (other keys: domains, tls, outbound, publishing)" % ", ".join(JOBS))

    domains = _domains(problems, description.get("domains"))
    default_tls = _tls(problems, "tls", description.get("tls"))
    topology = {"domains": domains, "outbound": _outbound(problems, description.get("outbound"))}
    servers = []
    for job in JOBS:
        spec = description.get(job)
        if spec is None:
            topology[job] = None
            continue
        if not isinstance(spec, dict):
            problems.add(job, "must be a mapping with servers")
            continue
        _check_keys(problems, job, spec, JOB_KEYS[job])
        job_servers = _servers(problems, job, spec, domains, inventory_hosts)
        servers.extend(job_servers)
        settings = {
            "servers": job_servers,
            "tls": _tls(problems, job + ".tls", spec.get("tls")) or default_tls,
            "max_message_size": spec.get("max_message_size"),
        }
        size = settings["max_message_size"]
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            problems.add(job + ".max_message_size", "must be a positive number of bytes")
        if job == "submission":
            settings["users"] = _users(problems, spec, domains)
            settings["placeholder_domain"] = spec.get("placeholder_domain", DEFAULT_PLACEHOLDER_DOMAIN)
            if not is_domain(settings["placeholder_domain"]) or settings["placeholder_domain"] in domains:
                problems.add("submission.placeholder_domain", "must be a domain name that is not an own domain")
            # IIS finds its certificate in the Windows store (iis_smtp_submission_certificate_thumbprint).
            if not settings["tls"] and any(server["platform"] == "postfix" for server in job_servers):
                problems.add("submission.tls", "required: submission accepts passwords only over TLS (cert_file, key_file)")
        elif job == "inbound_relay":
            settings["recipients"] = _own_addresses(problems, "inbound_relay.recipients", spec.get("recipients"), domains)
        elif job == "hub":
            settings["mailboxes"] = _own_addresses(problems, "hub.mailboxes", spec.get("mailboxes"), domains)
        topology[job] = settings

    if topology.get("hub") is None and any(topology.get(job) for job in FORWARDING_JOBS):
        problems.add("hub", "required: submission and inbound_relay hand their mail to the hub")
    _check_wiring(problems, servers)
    # Publishing is checked against the jobs above; it lives in its own module.
    topology["publishing"] = _publishing.normalize(problems, description.get("publishing"), topology, inventory_hosts)
    if problems.items:
        raise TopologyError(problems.items)
    return topology


def servers_of(topology, job):
    """The normalised servers of ``job``; none when the topology has no such job."""
    return (topology.get(job) or {}).get("servers", [])


def all_servers(topology):
    """Every normalised server, job by job in JOBS order (each names its ``job``)."""
    return [server for job in JOBS for server in servers_of(topology, job)]


def warnings(topology):
    """Settings of a valid description that some of its servers cannot apply, as readable lines."""
    found = []
    outbound = topology["outbound"]
    if outbound["dns_servers"]:
        for server in servers_of(topology, "hub"):
            if server["platform"] == "postfix":
                # Postfix has no per-instance resolver: it asks the name servers of /etc/resolv.conf.
                found.append(
                    "outbound.dns_servers: the Postfix hub on %s does not apply them; it resolves through "
                    "the name servers in that host's /etc/resolv.conf" % server["host"]
                )
    return found


def _hops(topology, job):
    return [{"address": server["address"], "port": server["port"]} for server in servers_of(topology, job)]


def host_jobs(topology, host):
    """Role variables for every job ``host`` serves: ``{job: {variable: value}}``.

    Keys are the role variable names (``submission_address``...), so a play can
    pass them straight to the job role.
    """
    jobs = {}
    hubs = _hops(topology, "hub")
    for job in JOBS:
        settings = topology.get(job)
        if not settings:
            continue
        for server in settings["servers"]:
            if server["host"] != host:
                continue
            variables = {
                "platform": server["platform"],
                "instance": server["instance"],
                "address": server["address"],
                "port": server["port"],
                "hostname": server["hostname"],
                "max_message_size": settings["max_message_size"],
                "tls_cert_file": (settings["tls"] or {}).get("cert_file"),
                "tls_key_file": (settings["tls"] or {}).get("key_file"),
            }
            if job == "submission":
                variables.update(
                    next_hops=hubs,
                    users=settings["users"],
                    placeholder_domain=settings["placeholder_domain"],
                )
            elif job == "inbound_relay":
                variables.update(next_hops=hubs, domains=topology["domains"], recipients=settings["recipients"])
            else:
                outbound = topology["outbound"]
                variables.update(
                    domains=topology["domains"],
                    relay_clients=[{"address": hop["address"]} for hop in _hops(topology, "submission")],
                    inbound_relays=[{"address": hop["address"]} for hop in _hops(topology, "inbound_relay")],
                    mailboxes=settings["mailboxes"],
                    outbound_method=outbound["method"],
                    smarthost=outbound["smarthost"],
                    dns_servers=outbound["dns_servers"],
                )
            jobs[job] = {"%s_%s" % (job, name): value for name, value in variables.items()}
    return jobs


def audit_targets(topology, credentials=False):
    """What an outside probe must check: one mailrelay.smtp.relay_audit target per server.

    With ``credentials``, submission targets carry the first user's login and
    password (for the authenticated cases); the topology action leaves them out
    of its result, the filter passes them on as variables.
    """
    mailboxes = (topology.get("hub") or {}).get("mailboxes") or []
    users = (topology.get("submission") or {}).get("users") or []
    targets = []
    for server in all_servers(topology):
        job = server["job"]
        target = {
            "name": "%s %s (%s)" % (job, server["host"], server["address"]),
            "role": job,
            "host": server["address"],
            "port": server["port"],
            "platform": server["platform"],
            "own_domains": list(topology["domains"]),
            "own_recipient": mailboxes[0] if mailboxes else "postmaster",
        }
        if job == "submission" and users:
            user = users[0]
            target["username"] = user["login"]
            target["sender"] = user["senders"][0] if user["senders"] else None
            # An address of the own domains that this user does not own.
            target["other_sender"] = "mailrelay-audit-spoof@%s" % topology["domains"][0]
            if credentials:
                target["password"] = user["password"]
        targets.append(target)
    return targets
