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

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim, _dovecot_sasl
from ansible_collections.mailrelay.smtp.plugins.module_utils import _validate
from ansible_collections.mailrelay.smtp.plugins.module_utils import _publishing

JOBS = ("submission", "inbound_relay", "hub")
OTHER_TOP_LEVEL_KEYS = ("domains", "tls", "outbound", "include_subdomains", "audit", "dns", "dkim", "publishing")
TOP_LEVEL_KEYS = frozenset(JOBS + OTHER_TOP_LEVEL_KEYS)
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
    "submission": frozenset(("servers", "users", "tls", "placeholder_domain", "max_message_size",
                             "implicit_tls_port", "limits", "hide_client_in_received")),
    "inbound_relay": frozenset(("servers", "recipients", "tls", "max_message_size", "recipient_validation", "postscreen")),
    "hub": frozenset(("servers", "mailboxes", "tls", "max_message_size", "submission_trust")),
}
USER_KEYS = frozenset(("login", "password", "senders"))
TLS_KEYS = frozenset(("cert_file", "key_file", "ca_file"))
TLS_REQUIRED_KEYS = ("cert_file", "key_file")
AUDIT_KEYS = frozenset(("recipient",))
OUTBOUND_KEYS = frozenset(("method", "smarthost", "dns_servers"))
# glibc's resolver, which a Postfix hub's chrooted smtp client uses, reads no more (MAXNS).
MAX_POSTFIX_DNS_SERVERS = 3
SMARTHOST_KEYS = frozenset(("host", "port", "tls", "username", "password"))
# Edge hygiene (issue 13): submission limits, implicit TLS, recipient validation, postscreen.
DEFAULT_IMPLICIT_TLS_PORT = 465
# Limits per client address, counted per minute by Postfix's anvil (docs/submission.md).
SUBMISSION_LIMITS = {
    "auth_rate_limit": 10,          # AUTH commands per minute: password guessing stops here
    "connection_rate_limit": 100,   # connections per minute (an office behind one NAT address)
    "message_rate_limit": 100,      # MAIL FROM commands per minute, accepted or not
    "connection_count_limit": 20,   # simultaneous connections
    "recipient_limit": 100,         # recipients per message
}
SUBMISSION_LIMIT_KEYS = frozenset(SUBMISSION_LIMITS)
RECIPIENT_VALIDATION = ("list", "verify", "off")
# How a hub knows the submission servers it relays outward for.
SUBMISSION_TRUST = ("certificate", "address")
POSTSCREEN_KEYS = frozenset(("enabled", "greet_wait", "pipelining", "dnsbl_sites", "dnsbl_threshold", "allowlist"))
DNSBL_KEYS = frozenset(("site", "weight"))


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


# One rule for domains and mail addresses, shared with the job settings.
is_domain = _validate.is_domain
is_address = _validate.is_mail_address


def _checked(problems, function, value, field, *args):
    """``function(value, field)`` of _validate; None (and a problem) when it refuses."""
    try:
        return function(value, field, *args)
    except _validate.InvalidInput as exc:
        problems.add(exc.field, exc.message)
        return None


def _listen_address(value):
    """Parse a listen address: one unicast IP address (never 'all')."""
    address = ipaddress.ip_address(str(value).strip("[]"))
    if address.is_unspecified or address.is_multicast:
        raise ValueError("must be one unicast address, not %s" % value)
    return address


_check_keys = _validate.check_keys
_as_list = _validate.as_list


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
    for key in TLS_REQUIRED_KEYS:
        if not isinstance(value.get(key), str) or not value.get(key):
            problems.add("%s.%s" % (field, key), "required (path of the PEM file on the host)")
        else:
            _checked(problems, _validate.check_text, value.get(key), "%s.%s" % (field, key))
    # ca_file: where an audit finds the CA that signed cert_file (on the host that runs the audit).
    if value.get("ca_file") is not None:
        if not isinstance(value["ca_file"], str) or not value["ca_file"]:
            problems.add(field + ".ca_file", "must be the path of a PEM CA certificate file")
        else:
            _checked(problems, _validate.check_text, value["ca_file"], field + ".ca_file")
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
            problems.add(where + ".host", "required (an inventory hostname, a string)")
            host = None
        elif _checked(problems, _validate.check_text, host, where + ".host") is None:
            host = None
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
        if _checked(problems, _validate.check_host_name, hostname, where + ".hostname") is None:
            hostname = None
        instance = server.get("instance") or _default_instance(job, platform)
        if platform == "postfix":
            instance = _checked(problems, _validate.check_instance_name, instance, where + ".instance")
        elif _checked(problems, _validate.check_text, instance, where + ".instance") is None:
            instance = None
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
        if not isinstance(login, str):
            problems.add(where + ".login", "required: a string, got %s" % type(login).__name__)
            login = None
        elif not _dovecot_sasl.valid_login(login):
            problems.add(where + ".login", "required: letters, digits and . _ @ + - only")
        elif login in logins:
            problems.add(where + ".login", "%s is listed twice" % login)
        logins.add(login)
        if not isinstance(user.get("password"), str) or not user.get("password"):
            problems.add(where + ".password", "required (a string)")
        else:
            _checked(problems, _validate.check_secret, user.get("password"), where + ".password")
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
            host = raw["host"]
            if not isinstance(host, str):
                problems.add("outbound.smarthost.host", "must be an address or a host name (a string), got %s" % type(host).__name__)
                host = None
            else:
                host = host.strip("[]")
                try:
                    ipaddress.ip_address(host)
                except ValueError:
                    if not is_domain(host):
                        problems.add("outbound.smarthost.host", "%r is neither an address nor a host name" % raw["host"])
            tls = raw.get("tls", "may")
            if tls not in SMARTHOST_TLS:
                problems.add("outbound.smarthost.tls", "%r is not one of %s" % (tls, ", ".join(SMARTHOST_TLS)))
            if raw.get("username") not in (None, ""):
                _checked(problems, _validate.check_sasl_login, raw.get("username"), "outbound.smarthost.username")
            if raw.get("password") not in (None, ""):
                _checked(problems, _validate.check_secret, raw.get("password"), "outbound.smarthost.password")
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


def _audit(problems, value, domains, topology):
    """The audit settings: the address that receives the audit's probe mail for the own domains."""
    if value is None:
        return {"recipient": None}
    if not isinstance(value, dict):
        problems.add("audit", "must be a mapping")
        return {"recipient": None}
    _check_keys(problems, "audit", value, AUDIT_KEYS)
    recipient = None
    if value.get("recipient") is not None:
        recipient = _own_address(problems, "audit.recipient", value["recipient"], domains)
    # It must be deliverable, or the inbound relay's must-accept case fails for the wrong reason.
    for job, key in (("hub", "mailboxes"), ("inbound_relay", "recipients")):
        known = (topology.get(job) or {}).get(key) or []
        if recipient and known and recipient.lower() not in [address.lower() for address in known]:
            problems.add("audit.recipient", "%s is not one of %s.%s" % (recipient, job, key))
    return {"recipient": recipient}


def _positive_int(problems, field, value, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.add(field, "must be a positive whole number, got %r" % (value,))
        return default
    return value


def _submission_edge(problems, spec, servers):
    """Implicit TLS port, anvil limits and Received: privacy of the submission job."""
    raw_port = spec.get("implicit_tls_port")
    if raw_port is False:
        implicit_tls_port = 0
    elif raw_port is None:
        # IIS SMTP cannot serve implicit TLS: on by default where every server is Postfix.
        implicit_tls_port = DEFAULT_IMPLICIT_TLS_PORT if all(server["platform"] == "postfix" for server in servers) else 0
    else:
        implicit_tls_port = _port(problems, "submission.implicit_tls_port", raw_port, 0)
        if implicit_tls_port and any(server["platform"] != "postfix" for server in servers):
            problems.add("submission.implicit_tls_port", "IIS SMTP has no implicit TLS: set false for IIS submission servers")
    for server in servers:
        if implicit_tls_port and server["port"] == implicit_tls_port:
            problems.add("submission.implicit_tls_port", "%d is already the port of %s" % (implicit_tls_port, server["field"]))
    limits = spec.get("limits") or {}
    if not isinstance(limits, dict):
        problems.add("submission.limits", "must be a mapping")
        limits = {}
    _check_keys(problems, "submission.limits", limits, SUBMISSION_LIMIT_KEYS)
    hide = spec.get("hide_client_in_received", True)
    if not isinstance(hide, bool):
        problems.add("submission.hide_client_in_received", "must be true or false")
        hide = True
    return {
        "implicit_tls_port": implicit_tls_port,
        "limits": {key: _positive_int(problems, "submission.limits." + key, limits.get(key), default)
                   for key, default in sorted(SUBMISSION_LIMITS.items())},
        "hide_client_in_received": hide,
    }


def _postscreen(problems, value):
    """postscreen in front of a Postfix inbound relay: on by default."""
    value = {} if value is None else value
    if isinstance(value, bool):
        value = {"enabled": value}
    if not isinstance(value, dict):
        problems.add("inbound_relay.postscreen", "must be a mapping (or true/false)")
        value = {}
    _check_keys(problems, "inbound_relay.postscreen", value, POSTSCREEN_KEYS)
    field = "inbound_relay.postscreen."
    settings = {"enabled": value.get("enabled", True), "pipelining": value.get("pipelining", True)}
    for key in ("enabled", "pipelining"):
        if not isinstance(settings[key], bool):
            problems.add(field + key, "must be true or false")
    settings["greet_wait"] = _positive_int(problems, field + "greet_wait", value.get("greet_wait"), 6)
    settings["dnsbl_threshold"] = _positive_int(problems, field + "dnsbl_threshold", value.get("dnsbl_threshold"), 3)
    sites = []
    for index, site in enumerate(_as_list(problems, field + "dnsbl_sites", value.get("dnsbl_sites"))):
        where = "%sdnsbl_sites[%d]" % (field, index)
        if isinstance(site, str):
            site = {"site": site}
        if not isinstance(site, dict):
            problems.add(where, "must be a DNS list name or a mapping with site and weight")
            continue
        _check_keys(problems, where, site, DNSBL_KEYS)
        name = site.get("site")
        # A reply filter (zen.example=127.0.0.[2..11]) may follow the name.
        if not isinstance(name, str) or not is_domain(name.split("=")[0]) or any(char.isspace() for char in name):
            problems.add(where + ".site", "%r is not a DNS list name" % (name,))
            continue
        weight = site.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int) or weight == 0:
            problems.add(where + ".weight", "must be a non-zero whole number (negative for allow lists)")
            continue
        sites.append({"site": name, "weight": weight})
    settings["dnsbl_sites"] = sites
    allowlist = []
    for index, network in enumerate(_as_list(problems, field + "allowlist", value.get("allowlist"))):
        try:
            allowlist.append(str(ipaddress.ip_network(str(network), strict=False)))
        except ValueError:
            problems.add("%sallowlist[%d]" % (field, index), "%r is not an address or network" % (network,))
    settings["allowlist"] = allowlist
    return settings


def _recipient_validation(problems, topology, spec):
    """Known recipients (given, or the Postfix hub's mailboxes) and how the relay checks them."""
    relay = topology["inbound_relay"]
    hub = topology.get("hub") or {}
    given = spec.get("recipient_validation")
    known = relay["recipients"]
    # A Postfix hub delivers exactly its mailboxes: the relay knows them (all of them, even none).
    hub_is_postfix = bool(hub.get("servers")) and all(server["platform"] == "postfix" for server in hub["servers"])
    if not known and hub_is_postfix:
        known = list(hub.get("mailboxes") or [])
    is_known = bool(known) or hub_is_postfix
    if given is not None and given not in RECIPIENT_VALIDATION:
        problems.add("inbound_relay.recipient_validation", "%r is not one of %s" % (given, ", ".join(RECIPIENT_VALIDATION)))
        given = None
    postfix_relays = [server for server in relay["servers"] if server["platform"] == "postfix"]
    if given == "list" and not is_known:
        problems.add("inbound_relay.recipient_validation", "list needs inbound_relay.recipients (the hub's recipients are not known)")
    if given == "verify" and len(postfix_relays) != len(relay["servers"]):
        problems.add("inbound_relay.recipient_validation", "verify works on Postfix relays only")
    if given is None:
        given = "list" if is_known else "off"
        if not is_known and postfix_relays and hub:
            problems.add(
                "inbound_relay.recipient_validation",
                "required: the relay cannot know the hub's recipients; list them in inbound_relay.recipients, "
                "or set verify (ask the hub at RCPT time) or off (accept every address of the own domains)")
    relay["recipient_validation"] = given
    relay["recipients"] = known if given == "list" else []


def _submission_trust(problems, topology, spec):
    """certificate (the hub relays for the submission servers' TLS client certificates) where both
    ends are Postfix with TLS material; address (mynetworks) otherwise."""
    hub = topology["hub"]
    submission = topology.get("submission") or {}
    capable = (bool(submission.get("servers")) and bool(hub["tls"]) and bool(submission.get("tls"))
               and all(server["platform"] == "postfix" for server in hub["servers"] + submission["servers"]))
    given = spec.get("submission_trust")
    if given is None:
        given = "certificate" if capable else "address"
    elif given not in SUBMISSION_TRUST:
        problems.add("hub.submission_trust", "%r is not one of %s" % (given, ", ".join(SUBMISSION_TRUST)))
        given = "address"
    elif given == "certificate" and not capable:
        problems.add("hub.submission_trust", "certificate needs Postfix on the hub and the submission servers, "
                     "and TLS material (tls) for both")
    hub["submission_trust"] = given


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
        problems.add(key, "unknown job; known jobs are %s (other keys: %s)" % (", ".join(JOBS), ", ".join(OTHER_TOP_LEVEL_KEYS)))

    domains = _domains(problems, description.get("domains"))
    include_subdomains = description.get("include_subdomains", False)
    if not isinstance(include_subdomains, bool):
        problems.add("include_subdomains", "must be true or false")
        include_subdomains = False
    default_tls = _tls(problems, "tls", description.get("tls"))
    topology = {"domains": domains, "include_subdomains": include_subdomains,
                "outbound": _outbound(problems, description.get("outbound"))}
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
            settings.update(_submission_edge(problems, spec, job_servers))
        elif job == "inbound_relay":
            settings["recipients"] = _own_addresses(problems, "inbound_relay.recipients", spec.get("recipients"), domains)
            settings["postscreen"] = _postscreen(problems, spec.get("postscreen"))
        elif job == "hub":
            settings["mailboxes"] = _own_addresses(problems, "hub.mailboxes", spec.get("mailboxes"), domains)
        topology[job] = settings

    if topology.get("inbound_relay"):
        _recipient_validation(problems, topology, description["inbound_relay"])
    if topology.get("hub"):
        _submission_trust(problems, topology, description["hub"])
    topology["audit"] = _audit(problems, description.get("audit"), domains, topology)
    if topology.get("hub") is None and any(topology.get(job) for job in FORWARDING_JOBS):
        problems.add("hub", "required: submission and inbound_relay hand their mail to the hub")
    _check_wiring(problems, servers)
    postfix_hubs = [server for server in servers_of(topology, "hub") if server["platform"] == "postfix"]
    if postfix_hubs and len(topology["outbound"]["dns_servers"]) > MAX_POSTFIX_DNS_SERVERS:
        problems.add("outbound.dns_servers", "a Postfix hub's resolver reads at most %d name servers, got %d"
                     % (MAX_POSTFIX_DNS_SERVERS, len(topology["outbound"]["dns_servers"])))
    # DNS records and DKIM (issue 14); imported here because _dns_records builds on this module.
    from ansible_collections.mailrelay.smtp.plugins.module_utils import _dns_records

    topology["dns"], topology["dkim"] = _dns_records.normalize_settings(problems.add, description.get("dns"), description.get("dkim"), topology)
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
    """Settings of a valid description that some of its servers cannot apply, as readable lines.

    None today: ``outbound.dns_servers`` reaches an Exchange hub's Transport service and a
    Postfix hub's chrooted smtp client (its instance's own resolv.conf).
    """
    return []


def _hops(topology, job):
    return [{"address": server["address"], "port": server["port"]} for server in servers_of(topology, job)]


class _Wiring:
    """What every host's derivation shares, worked out once per topology.

    Without it each host would walk every server again (quadratic over a play).
    """

    def __init__(self, topology):
        self.hops = {job: _hops(topology, job) for job in JOBS}
        self.by_host = {}
        for server in all_servers(topology):
            self.by_host.setdefault(server["host"], {}).setdefault(server["job"], []).append(server)
        self.outside = {}
        for entry in (topology.get("publishing") or {}).get("published") or []:
            self.outside.setdefault((entry["job"], entry["host"]), []).append(entry["outside_address"])

    def outside_addresses(self, job, host):
        """The outside addresses a publishing gateway gives ``job`` on ``host`` (none when unpublished)."""
        return self.outside.get((job, host), [])

    def servers(self, host, job):
        return self.by_host.get(host, {}).get(job, [])


def jobs_by_host(topology):
    """Role variables of every host that serves a job: ``{host: host_jobs(topology, host)}``.

    One pass over the servers: a play derives this once and each host looks
    up its own entry. Hosts share the derived lists (next hops, relay clients).
    """
    wiring = _Wiring(topology)
    return {host: host_jobs(topology, host, wiring) for host in wiring.by_host}


def host_jobs(topology, host, wiring=None):
    """Role variables for every job ``host`` serves: ``{job: {variable: value}}``.

    Keys are the role variable names (``submission_address``...), so a play can
    pass them straight to the job role. ``wiring`` (from jobs_by_host) saves
    deriving the shared parts again for each host.
    """
    jobs = {}
    wiring = wiring or _Wiring(topology)
    hubs = wiring.hops["hub"]
    for job in JOBS:
        settings = topology.get(job)
        if not settings:
            continue
        for server in wiring.servers(host, job):
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
                    implicit_tls_port=settings["implicit_tls_port"],
                    hide_client_in_received=settings["hide_client_in_received"],
                    # [outside address] is this server's own address too: a local destination, never relayed.
                    proxy_interfaces=wiring.outside_addresses(job, host),
                    client_certificate=(topology.get("hub") or {}).get("submission_trust") == "certificate",
                )
                variables.update(settings["limits"])
            elif job == "inbound_relay":
                variables.update(
                    next_hops=hubs,
                    domains=topology["domains"],
                    include_subdomains=topology["include_subdomains"],
                    recipients=settings["recipients"],
                    recipient_validation=settings["recipient_validation"],
                    postscreen=settings["postscreen"],
                    proxy_interfaces=wiring.outside_addresses(job, host),
                )
            else:
                outbound = topology["outbound"]
                variables.update(
                    domains=topology["domains"],
                    include_subdomains=topology["include_subdomains"],
                    relay_clients=[{"address": hop["address"]} for hop in wiring.hops["submission"]],
                    # The hub's play reads each certificate on its host and trusts its fingerprint.
                    relay_client_certificates=[
                        {"host": server["host"], "cert_file": topology["submission"]["tls"]["cert_file"]}
                        for server in servers_of(topology, "submission")
                    ] if settings["submission_trust"] == "certificate" else [],
                    inbound_relays=[{"address": hop["address"]} for hop in wiring.hops["inbound_relay"]],
                    mailboxes=settings["mailboxes"],
                    outbound_method=outbound["method"],
                    smarthost=outbound["smarthost"],
                    dns_servers=outbound["dns_servers"],
                    dkim=_dkim.hub_signing(topology, server),
                )
            jobs[job] = {"%s_%s" % (job, name): value for name, value in variables.items()}
    return jobs


# The largest AUTH rate the audit proves by trying it (relay_audit's auth_rate_limit: one session per AUTH).
AUDITED_AUTH_RATE_LIMIT = 100


def audit_targets(topology, credentials=False):
    """What an outside probe must check: one mailrelay.smtp.relay_audit target per server.

    With ``credentials``, submission targets carry the first user's login and
    password (for the authenticated cases); the topology action leaves them out
    of its result, the filter passes them on as variables.

    Probe mail for the own domains goes to ``audit.recipient`` (else to each
    domain's postmaster), never to a user's mailbox. TLS is verified against
    the job's ``tls.ca_file`` and the server's ``hostname`` when a CA is named,
    not at all otherwise. A loopback server (a one-machine lab) is probed from
    a free loopback address of its /24: a connection to a loopback address
    otherwise comes from that same address.
    """
    users = (topology.get("submission") or {}).get("users") or []
    used = {server["address"] for server in all_servers(topology)}
    smarthost = (topology.get("outbound") or {}).get("smarthost") or {}
    used.add(smarthost.get("host"))
    targets = []
    for server in all_servers(topology):
        job = server["job"]
        ca_file = (topology[job]["tls"] or {}).get("ca_file")
        target = {
            "name": "%s %s (%s)" % (job, server["host"], server["address"]),
            "role": job,
            "host": server["address"],
            "port": server["port"],
            "platform": server["platform"],
            "own_domains": list(topology["domains"]),
            "own_recipient": (topology.get("audit") or {}).get("recipient") or "postmaster",
            "tls_verify": bool(ca_file),
        }
        if ca_file:
            target.update(ca_path=ca_file, tls_server_name=server["hostname"])
        if server["loopback"] and ipaddress.ip_address(server["address"]).version == 4:
            network = ipaddress.ip_network(server["address"] + "/24", strict=False)
            free = [str(address) for address in reversed(list(network.hosts())) if str(address) not in used]
            if free:
                target["source_address"] = free[0]
            if len(free) > 1 and job == "submission":
                # The brute-force series' own address: its minute of AUTH lock-out meets no other case.
                target["auth_rate_source_address"] = free[1]
        auth_rate_limit = ((topology.get(job) or {}).get("limits") or {}).get("auth_rate_limit")
        if job == "submission" and server["platform"] == "postfix" and auth_rate_limit \
                and auth_rate_limit <= AUDITED_AUTH_RATE_LIMIT:
            # Postfix's anvil limit is proven by a brute-force series, last in the target.
            target["auth_rate_limit"] = auth_rate_limit
        if job == "submission" and users:
            user = users[0]
            target["username"] = user["login"]
            target["sender"] = user["senders"][0] if user["senders"] else None
            # An address of the own domains that this user does not own.
            target["other_sender"] = "mailrelay-audit-spoof@%s" % topology["domains"][0]
            if credentials:
                target["password"] = user["password"]
        if job == "inbound_relay":
            # Cases for behaviour the description itself turns off.
            exclude = []
            if topology["include_subdomains"]:
                exclude.append("subdomain@*")
            if topology["inbound_relay"]["recipient_validation"] == "off":
                exclude.append("unknown-recipient@*")
            if exclude:
                target["cases"] = {"exclude": exclude}
        targets.append(target)
        implicit_tls_port = (topology.get(job) or {}).get("implicit_tls_port")
        if job == "submission" and implicit_tls_port and server["platform"] == "postfix":
            # The same audit over the RFC 8314 port: TLS from the first byte.
            targets.append(dict(target, name="%s %s (%s, implicit TLS)" % (job, server["host"], server["address"]),
                                port=implicit_tls_port, tls="implicit"))
    return targets
