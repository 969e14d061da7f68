# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DNS records a mail topology needs, derived from its description.

From the normalised topology (``_topology.normalize``) this module derives,
for every own domain: MX records pointing at the inbound relays, A/AAAA
records for the names the servers greet with, SPF (the addresses that really
send outward), DKIM (one record per selector and key), DMARC, MTA-STS (the
``_mta-sts`` TXT record and the policy text the HTTPS server must serve) and
TLS-RPT. The result is structured data (one dict per record) and a zone-file
snippet with absolute owner names, so it can be pasted into any zone.

It also validates the ``dns`` and ``dkim`` parts of the description;
``_topology.normalize`` calls ``normalize_settings``.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim, _topology

DNS_KEYS = frozenset(("ttl", "addresses", "mx_preference", "spf", "dmarc", "mta_sts", "tls_rpt"))
SPF_KEYS = frozenset(("include", "addresses", "all"))
DMARC_KEYS = frozenset(("policy", "subdomain_policy", "rua", "ruf", "pct", "adkim", "aspf"))
MTA_STS_KEYS = frozenset(("mode", "max_age"))
TLS_RPT_KEYS = frozenset(("rua",))
DKIM_KEYS = frozenset(("selectors", "active", "algorithms"))

DMARC_POLICIES = ("none", "quarantine", "reject")
ALIGNMENT = ("r", "s")
SPF_ALL = {"softfail": "~all", "fail": "-all", "neutral": "?all"}
MTA_STS_MODES = ("testing", "enforce", "none")
DKIM_ALGORITHMS = _dkim.ALGORITHMS
DEFAULT_DKIM_SELECTOR = "mailrelay1"
DEFAULT_TTL = 3600
# RFC 7208 4.6.4: at most 10 mechanisms and modifiers that cause DNS lookups.
SPF_LOOKUP_LIMIT = 10
# RFC 1035 3.3: a character-string holds at most 255 octets.
TXT_STRING_LIMIT = 255
# RFC 8461 3.2: max_age is at most one year.
MTA_STS_MAX_AGE_LIMIT = 31557600

_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?$")
_REPORT_URI = re.compile(r"^(mailto:|https://)\S+$")


def _check_keys(add, field, value, allowed):
    for key in sorted(set(value) - allowed):
        add("%s.%s" % (field, key), "unknown key; known keys are %s" % ", ".join(sorted(allowed)))


def _mapping(add, field, value):
    if value is None:
        return {}
    if not isinstance(value, dict):
        add(field, "must be a mapping")
        return {}
    return value


def _choice(add, field, value, choices, default):
    if value is None:
        return default
    if value not in choices:
        add(field, "%r is not one of %s" % (value, ", ".join(choices)))
        return default
    return value


def _report_uris(add, field, value, default):
    """``mailto:`` or ``https://`` report URIs; a bare mail address becomes ``mailto:``."""
    if value is None:
        return list(default)
    items = value if isinstance(value, list) else [value]
    uris = []
    for index, item in enumerate(items):
        where = "%s[%d]" % (field, index) if isinstance(value, list) else field
        if isinstance(item, str) and _topology.is_address(item):
            item = "mailto:" + item
        if not isinstance(item, str) or not _REPORT_URI.match(item) or "," in item or ";" in item:
            add(where, "%r is neither a mail address nor a mailto:/https:// URI" % (item,))
            continue
        uris.append(item)
    return uris


def _int_between(add, field, value, default, low, high):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        add(field, "must be a whole number from %d to %d" % (low, high))
        return default
    return value


def _spf_item(add, field, value):
    """An SPF ip4/ip6 network, or None."""
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        add(field, "%r is not an IP address or network" % (value,))
        return None


def _public_addresses(add, value, topology):
    """``dns.addresses``: greeting name -> the addresses the Internet sees for it."""
    names = {server["hostname"] for server in _topology.all_servers(topology)}
    result = {}
    for name, addresses in sorted(_mapping(add, "dns.addresses", value).items()):
        field = "dns.addresses.%s" % name
        if name not in names:
            add(field, "is not the hostname of any server (known: %s)" % ", ".join(sorted(names)))
            continue
        if not isinstance(addresses, list) or not addresses:
            add(field, "must be a list of one or more IP addresses")
            continue
        parsed = []
        for index, address in enumerate(addresses):
            try:
                parsed.append(str(ipaddress.ip_address(address)))
            except ValueError:
                add("%s[%d]" % (field, index), "%r is not an IP address" % (address,))
        result[name] = parsed
    return result


def normalize_settings(add, dns, dkim, topology):
    """Validate the ``dns`` and ``dkim`` parts; ``add(field, message)`` collects problems.

    ``topology`` is the rest of the normalised description (domains, jobs,
    outbound). Returns ``(dns_settings, dkim_settings_or_None)``.
    """
    domains = topology["domains"]
    dns = _mapping(add, "dns", dns)
    _check_keys(add, "dns", dns, DNS_KEYS)
    settings = {
        "ttl": _int_between(add, "dns.ttl", dns.get("ttl"), DEFAULT_TTL, 60, 604800),
        "mx_preference": _int_between(add, "dns.mx_preference", dns.get("mx_preference"), 10, 0, 65535),
        "addresses": _public_addresses(add, dns.get("addresses"), topology),
    }

    spf = _mapping(add, "dns.spf", dns.get("spf"))
    _check_keys(add, "dns.spf", spf, SPF_KEYS)
    includes = []
    for index, include in enumerate(_topology_list(add, "dns.spf.include", spf.get("include"))):
        if not _topology.is_domain(include):
            add("dns.spf.include[%d]" % index, "%r is not a domain name" % (include,))
        else:
            includes.append(include.lower())
    raw_networks = _topology_list(add, "dns.spf.addresses", spf.get("addresses"))
    networks = [_spf_item(add, "dns.spf.addresses[%d]" % index, item) for index, item in enumerate(raw_networks)]
    settings["spf"] = {
        "include": includes,
        "addresses": [network for network in networks if network is not None],
        "all": _choice(add, "dns.spf.all", spf.get("all"), tuple(SPF_ALL), "softfail"),
    }

    dmarc = _mapping(add, "dns.dmarc", dns.get("dmarc"))
    _check_keys(add, "dns.dmarc", dmarc, DMARC_KEYS)
    policy = _choice(add, "dns.dmarc.policy", dmarc.get("policy"), DMARC_POLICIES, "none")
    settings["dmarc"] = {
        "policy": policy,
        "subdomain_policy": _choice(add, "dns.dmarc.subdomain_policy", dmarc.get("subdomain_policy"), DMARC_POLICIES, None),
        # None: each domain reports to its own postmaster (see dmarc_record).
        "rua": _report_uris(add, "dns.dmarc.rua", dmarc.get("rua"), []) or None,
        "ruf": _report_uris(add, "dns.dmarc.ruf", dmarc.get("ruf"), []),
        "pct": _int_between(add, "dns.dmarc.pct", dmarc.get("pct"), 100, 0, 100),
        "adkim": _choice(add, "dns.dmarc.adkim", dmarc.get("adkim"), ALIGNMENT, "r"),
        "aspf": _choice(add, "dns.dmarc.aspf", dmarc.get("aspf"), ALIGNMENT, "r"),
    }

    mta_sts = _mapping(add, "dns.mta_sts", dns.get("mta_sts"))
    _check_keys(add, "dns.mta_sts", mta_sts, MTA_STS_KEYS)
    settings["mta_sts"] = {
        "mode": _choice(add, "dns.mta_sts.mode", mta_sts.get("mode"), MTA_STS_MODES, "testing"),
        "max_age": _int_between(add, "dns.mta_sts.max_age", mta_sts.get("max_age"), 86400, 1, MTA_STS_MAX_AGE_LIMIT),
    }
    tls_rpt = _mapping(add, "dns.tls_rpt", dns.get("tls_rpt"))
    _check_keys(add, "dns.tls_rpt", tls_rpt, TLS_RPT_KEYS)
    settings["tls_rpt"] = {"rua": _report_uris(add, "dns.tls_rpt.rua", tls_rpt.get("rua"), []) or None}

    lookups = len(spf_mechanisms(topology, settings)[1])
    if lookups > SPF_LOOKUP_LIMIT:
        add("dns.spf", "the SPF record would need %d DNS lookups; RFC 7208 allows %d (fewer includes, or addresses instead)" % (lookups, SPF_LOOKUP_LIMIT))
    return settings, _dkim_settings(add, dkim, domains)


def _topology_list(add, field, value):
    if value is None:
        return []
    if not isinstance(value, list):
        add(field, "must be a list")
        return []
    return value


def _dkim_settings(add, dkim, domains):
    if dkim is None:
        return None
    if dkim is True or dkim == {}:
        dkim = {}
    elif not isinstance(dkim, dict):
        add("dkim", "must be a mapping (selectors, active, algorithms)")
        return None
    _check_keys(add, "dkim", dkim, DKIM_KEYS)
    selectors = []
    for index, selector in enumerate(_topology_list(add, "dkim.selectors", dkim.get("selectors", [DEFAULT_DKIM_SELECTOR]))):
        if not isinstance(selector, str) or not _SELECTOR.match(selector):
            add("dkim.selectors[%d]" % index, "%r is not a selector: lower-case letters, digits and inner hyphens, at most 42" % (selector,))
        elif selector in selectors:
            add("dkim.selectors[%d]" % index, "%s is listed twice" % selector)
        else:
            selectors.append(selector)
    if not selectors:
        add("dkim.selectors", "required: at least one selector")
    active = dkim.get("active", selectors[0] if selectors else None)
    if selectors and active not in selectors:
        add("dkim.active", "%r is not one of dkim.selectors (publish a selector before signing with it)" % (active,))
    algorithms = []
    for index, algorithm in enumerate(_topology_list(add, "dkim.algorithms", dkim.get("algorithms", list(DKIM_ALGORITHMS)))):
        if algorithm not in DKIM_ALGORITHMS:
            add("dkim.algorithms[%d]" % index, "%r is not one of %s" % (algorithm, ", ".join(DKIM_ALGORITHMS)))
        elif algorithm not in algorithms:
            algorithms.append(algorithm)
    if "rsa" not in algorithms:
        # Ed25519 alone is not verified by many receivers yet (RFC 8463 asks for both).
        add("dkim.algorithms", "must include rsa; ed25519 is signed in addition")
    return {"selectors": selectors, "active": active, "algorithms": algorithms, "domains": list(domains)}


def dkim_keys_needed(topology):
    """Every key the Postfix hubs need: ``[{host, hostname, selector, algorithm, key_selector, active}]``."""
    dkim = topology.get("dkim")
    if not dkim:
        return []
    keys = []
    for hub in _topology.servers_of(topology, "hub"):
        if hub["platform"] != "postfix":
            continue
        for selector in dkim["selectors"]:
            for algorithm in dkim["algorithms"]:
                keys.append({
                    "host": hub["host"],
                    "hostname": hub["hostname"],
                    "selector": selector,
                    "algorithm": algorithm,
                    "key_selector": _dkim.key_selector(selector, algorithm, hub["hostname"]),
                    "active": selector == dkim["active"],
                })
    return keys


def _public(topology, server, published):
    """The addresses the Internet uses for ``server``: dns.addresses, then published, then its listen address."""
    overrides = topology["dns"]["addresses"]
    name = server["hostname"]
    if name in overrides:
        return list(overrides[name])
    if published and published.get(name):
        return [str(ipaddress.ip_address(address)) for address in published[name]]
    return [server["address"]] if server["address"] else []


def _outbound_senders(topology, published):
    """Servers whose address the Internet sees as the sender: the hubs when they send by DNS."""
    if topology["outbound"]["method"] != "dns":
        return []
    return _topology.servers_of(topology, "hub")


def spf_mechanisms(topology, settings=None, published=None):
    """``(mechanisms, lookup_mechanisms)``: the SPF terms before ``all``, and those that cost a DNS lookup."""
    settings = settings or topology["dns"]
    terms = []
    networks = []
    for server in _outbound_senders(topology, published):
        networks.extend(ipaddress.ip_network(address) for address in _public_dict(topology, settings, server, published))
    smarthost = topology["outbound"].get("smarthost") if topology["outbound"]["method"] == "smarthost" else None
    lookups = []
    if smarthost and not settings["spf"]["include"]:
        try:
            networks.append(ipaddress.ip_network(smarthost["host"]))
        except ValueError:
            lookups.append("a:%s" % smarthost["host"])
    networks.extend(settings["spf"]["addresses"])
    seen = set()
    for network in networks:
        if network in seen:
            continue
        seen.add(network)
        prefix = "ip4" if network.version == 4 else "ip6"
        full = network.prefixlen == network.max_prefixlen
        terms.append("%s:%s" % (prefix, network.network_address if full else network))
    lookups.extend("include:%s" % include for include in settings["spf"]["include"])
    return terms + lookups, lookups


def _public_dict(topology, settings, server, published):
    # normalize_settings calls spf_mechanisms before topology["dns"] exists.
    return _public(dict(topology, dns=settings), server, published)


def spf_record(topology, published=None):
    mechanisms = spf_mechanisms(topology, published=published)[0]
    return " ".join(["v=spf1"] + mechanisms + [SPF_ALL[topology["dns"]["spf"]["all"]]])


def dmarc_record(topology, domain):
    dmarc = topology["dns"]["dmarc"]
    rua = dmarc["rua"] or ["mailto:postmaster@%s" % domain]
    parts = ["v=DMARC1", "p=%s" % dmarc["policy"]]
    if dmarc["subdomain_policy"]:
        parts.append("sp=%s" % dmarc["subdomain_policy"])
    if dmarc["pct"] != 100:
        parts.append("pct=%d" % dmarc["pct"])
    parts.append("rua=%s" % ",".join(rua))
    if dmarc["ruf"]:
        parts.append("ruf=%s" % ",".join(dmarc["ruf"]))
    if dmarc["adkim"] != "r":
        parts.append("adkim=%s" % dmarc["adkim"])
    if dmarc["aspf"] != "r":
        parts.append("aspf=%s" % dmarc["aspf"])
    return "; ".join(parts)


def _external_report_domains(uris, domain):
    """Report destinations outside ``domain`` (RFC 7489 7.1: they must agree in their own DNS)."""
    found = []
    for uri in uris:
        if uri.startswith("mailto:"):
            target = uri[len("mailto:"):].split("!")[0].split("@")[-1].lower()
            if target != domain and not target.endswith("." + domain) and target not in found:
                found.append(target)
    return found


def mx_hosts(topology):
    """The MX targets: the inbound relays' greeting names, in order."""
    names = []
    for server in _topology.servers_of(topology, "inbound_relay"):
        if server["hostname"] not in names:
            names.append(server["hostname"])
    return names


def mta_sts_policy(topology):
    """The policy text served at https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.2)."""
    lines = ["version: STSv1", "mode: %s" % topology["dns"]["mta_sts"]["mode"]]
    lines.extend("mx: %s" % name for name in mx_hosts(topology))
    lines.append("max_age: %d" % topology["dns"]["mta_sts"]["max_age"])
    return "\r\n".join(lines) + "\r\n"


def mta_sts_id(policy):
    """A policy id that changes whenever the policy text does (1-32 alphanumerics)."""
    return hashlib.sha256(policy.encode("ascii")).hexdigest()[:20]


def split_txt(text):
    """Split TXT data into character-strings of at most 255 octets.

    Readers join the strings without adding anything (RFC 7208 3.3, RFC 6376
    3.6.2.2), so a split may fall anywhere; it falls after a space when one is
    near, which keeps each piece readable.
    """
    data = text.encode("ascii")
    pieces = []
    while len(data) > TXT_STRING_LIMIT:
        cut = data.rfind(b" ", TXT_STRING_LIMIT // 2, TXT_STRING_LIMIT) + 1 or TXT_STRING_LIMIT
        pieces.append(data[:cut].decode("ascii"))
        data = data[cut:]
    pieces.append(data.decode("ascii"))
    return pieces


def _record(name, rtype, value, ttl, purpose, domain=None):
    record = {"name": name.rstrip(".").lower(), "type": rtype, "ttl": ttl, "value": value, "purpose": purpose}
    if rtype == "TXT":
        record["strings"] = split_txt(value)
    if domain:
        record["domain"] = domain
    return record


def dkim_txt(algorithm, public_key):
    return "v=DKIM1; k=%s; p=%s" % (algorithm, public_key)


def gateway_published(topology):
    """Greeting name -> the outside addresses the description's publishing gateway gives that server."""
    names = {(server["job"], server["host"]): server["hostname"] for server in _topology.all_servers(topology)}
    published = {}
    for entry in (topology.get("publishing") or {}).get("published") or []:
        name = names.get((entry["job"], entry["host"]))
        if name and entry["outside_address"] not in published.setdefault(name, []):
            published[name].append(entry["outside_address"])
    return published


def derive(topology, dkim_public_keys=None, published=None):
    """Every record the topology needs, and what could not be derived.

    ``dkim_public_keys``: ``[{key_selector, algorithm, public_key}]`` read from
    the hubs (the base64 ``p=`` value). ``published``: greeting name -> the
    addresses a publishing gateway gives that server (``dns.addresses`` wins).
    Returns ``{records, notes, mta_sts_policies}``. The outside addresses of the
    description's own ``publishing`` part are used for the names ``published`` does not give.
    """
    published = dict(gateway_published(topology), **(published or {}))
    ttl = topology["dns"]["ttl"]
    records = []
    notes = []
    settings = topology["dns"]
    by_key = {key["key_selector"]: key for key in (dkim_public_keys or [])}

    # A/AAAA for every greeting name the Internet meets: MX targets, submission, the hubs that send by DNS.
    named = []
    for server in _topology.all_servers(topology):
        if server["job"] == "hub" and topology["outbound"]["method"] != "dns":
            continue
        for address in _public(topology, server, published):
            if (server["hostname"], address) in named:
                continue
            named.append((server["hostname"], address))
            parsed = ipaddress.ip_address(address)
            purpose = "address of the %s %s" % (server["job"].replace("_", " "), server["host"])
            records.append(_record(server["hostname"], "A" if parsed.version == 4 else "AAAA", address, ttl, purpose))
            if not parsed.is_global:
                notes.append("%s: %s is not a public address; set dns.addresses.%s to the address the Internet reaches"
                             % (server["hostname"], address, server["hostname"]))
    # Reverse DNS of the sending addresses: receivers check that it matches the greeting.
    for server in _outbound_senders(topology, published):
        for address in _public(topology, server, published):
            purpose = "reverse name of the hub %s (set by whoever owns the address)" % server["host"]
            records.append(_record(ipaddress.ip_address(address).reverse_pointer, "PTR", server["hostname"] + ".", ttl, purpose))

    spf = spf_record(topology, published)
    policy = mta_sts_policy(topology)
    for domain in topology["domains"]:
        for name in mx_hosts(topology):
            records.append(_record(domain, "MX", "%d %s." % (settings["mx_preference"], name), ttl, "inbound relay for %s" % domain, domain))
        records.append(_record(domain, "TXT", spf, ttl, "SPF: who sends mail for %s" % domain, domain))
        for key in dkim_keys_needed(topology):
            found = by_key.get(key["key_selector"])
            owner = "%s._domainkey.%s" % (key["key_selector"], domain)
            if not found:
                notes.append("%s: the %s key of selector %s does not exist on %s yet; deploy the hub (site.yml), then derive again"
                             % (owner, key["algorithm"], key["selector"], key["host"]))
                continue
            state = " (signing)" if key["active"] else " (published, not signing)"
            purpose = "DKIM %s key %s of %s%s" % (key["algorithm"], key["selector"], key["host"], state)
            records.append(_record(owner, "TXT", dkim_txt(key["algorithm"], found["public_key"]), ttl, purpose, domain))
        records.append(_record("_dmarc." + domain, "TXT", dmarc_record(topology, domain), ttl, "DMARC policy of %s" % domain, domain))
        rua = settings["dmarc"]["rua"] or []
        for target in _external_report_domains(rua + settings["dmarc"]["ruf"], domain):
            purpose = "%s agrees to receive DMARC reports of %s" % (target, domain)
            records.append(_record("%s._report._dmarc.%s" % (domain, target), "TXT", "v=DMARC1", ttl, purpose, target))
        if mx_hosts(topology):
            records.append(_record("_mta-sts." + domain, "TXT", "v=STSv1; id=%s" % mta_sts_id(policy), ttl, "MTA-STS policy id of %s" % domain, domain))
        tls_rpt = settings["tls_rpt"]["rua"] or ["mailto:postmaster@%s" % domain]
        records.append(_record("_smtp._tls." + domain, "TXT", "v=TLSRPTv1; rua=%s" % ",".join(tls_rpt), ttl, "TLS reporting address of %s" % domain, domain))
    if not mx_hosts(topology):
        notes.append("no inbound relay: no MX and no MTA-STS records derived")
    if topology["outbound"]["method"] == "smarthost" and settings["spf"]["include"]:
        notes.append("SPF: the includes %s stand for the smart host; their own lookups count towards the limit of %d"
                     % (", ".join(settings["spf"]["include"]), SPF_LOOKUP_LIMIT))
    if topology.get("dkim") and any(server["platform"] == "exchange" for server in _topology.servers_of(topology, "hub")):
        notes.append("dkim: an on-premises Exchange hub does not sign DKIM; see docs/dns.md")
    policies = {domain: policy for domain in topology["domains"]} if mx_hosts(topology) else {}
    return {"records": records, "notes": notes, "mta_sts_policies": policies}


def _quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def zone_text(records, header=None):
    """The records as zone-file lines with absolute owner names (valid in any zone)."""
    lines = ["; %s" % line for line in (header or [])]
    for record in records:
        data = " ".join(_quote(piece) for piece in record["strings"]) if record["type"] == "TXT" else record["value"]
        lines.append("; %s" % record["purpose"])
        lines.append("%s.\t%d\tIN\t%s\t%s" % (record["name"], record["ttl"], record["type"], data))
    return "\n".join(lines) + "\n"
