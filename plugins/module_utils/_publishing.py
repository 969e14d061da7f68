# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Publishing: which server the outside may reach, and the firewall rules derived from it.

The ``publishing`` part of the topology description names the gateway host(s)
(their outside and inside legs), one outside address per published server, the
management network that must stay reachable, the inside DNS servers that may
query the outside, and optional extra rules. Everything else is derived from
the jobs, as the seed article's ISA Server rules are:

- outside ``:25`` of an inbound relay's outside address -> that inbound relay;
- outside ``:587`` of a submission server's outside address -> that server, and
  outside ``:465`` -> its implicit-TLS port when the submission job serves one;
- outbound SMTP only from the hub, DNS out only from the named DNS servers
  (UDP and TCP: large MX answers need TCP);
- everything else from the outside is dropped; the hub is never published;
- no source NAT: the published servers see the Internet client's own address.

The rules come out as plain dicts (``chains``) that ``_nftables`` renders; the
per-host input filters admit only the ports of the jobs the host serves (the
hub's port only from the submission servers and inbound relays) plus management.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.mailrelay.smtp.plugins.module_utils import _validate

PUBLISHING_KEYS = frozenset(("gateways", "published", "management", "dns_servers", "rules"))
GATEWAY_KEYS = frozenset(("host", "outside_interface", "inside_interfaces"))
PUBLISHED_KEYS = frozenset(("job", "host", "outside_address"))
MANAGEMENT_KEYS = frozenset(("networks", "ports"))
RULE_KEYS = frozenset(("name", "direction", "source", "destination", "protocol", "port"))
# The jobs the outside may reach, and the outside port each is published on.
PUBLISHABLE_JOBS = {"inbound_relay": (25,), "submission": (587,)}
# Submission with implicit TLS (RFC 8314) is published on its well-known port.
IMPLICIT_TLS_OUTSIDE_PORT = 465
# SSH for Linux hosts, WinRM (HTTP, HTTPS) for Windows hosts.
LINUX_MANAGEMENT_PORTS = (22,)
WINDOWS_MANAGEMENT_PORTS = (22, 5985, 5986)
RULE_DIRECTIONS = ("inbound", "outbound")
RULE_PROTOCOLS = ("tcp", "udp")
DNS_PORT = 53
# The name of the collection's own nftables table; nothing else is touched.
TABLE_NAME = "mailrelay"

_INTERFACE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9 _.,:/()+-]{1,64}$")


_check_keys = _validate.check_keys
_list = _validate.as_list


def _interface(problems, field, value):
    if not isinstance(value, str) or not _INTERFACE.match(value):
        problems.add(field, "required: a network interface name (letters, digits, _ . : @ -, at most 15)")
        return None
    return value


def _network(problems, field, value):
    try:
        return ipaddress.ip_network(str(value), strict=False) if value is not None and not isinstance(value, bool) else None
    except ValueError:
        pass
    problems.add(field, "%r is not an address or network (CIDR)" % (value,))
    return None


def _address(problems, field, value):
    try:
        address = ipaddress.ip_address(str(value)) if value is not None and not isinstance(value, bool) else None
    except ValueError:
        address = None
    if address is None or address.is_unspecified or address.is_multicast or address.is_loopback:
        problems.add(field, "%r is not a unicast address" % (value,))
        return None
    return address


def _ports(problems, field, value, default):
    if value is None:
        return list(default)
    ports = []
    for index, port in enumerate(_list(problems, field, value)):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            problems.add("%s[%d]" % (field, index), "must be a TCP port between 1 and 65535, got %r" % (port,))
        elif port not in ports:
            ports.append(port)
    return ports


def _servers(topology, job):
    return (topology.get(job) or {}).get("servers", [])


def _gateways(problems, raw, topology, inventory_hosts):
    gateways = []
    items = _list(problems, "publishing.gateways", raw)
    if not items:
        problems.add("publishing.gateways", "required: at least one gateway (host, outside_interface, inside_interfaces)")
    job_hosts = {server["host"]: server["field"] for job in ("submission", "inbound_relay", "hub") for server in _servers(topology, job)}
    seen = set()
    for index, gateway in enumerate(items):
        where = "publishing.gateways[%d]" % index
        if not isinstance(gateway, dict):
            problems.add(where, "must be a mapping with host, outside_interface and inside_interfaces")
            continue
        _check_keys(problems, where, gateway, GATEWAY_KEYS)
        host = gateway.get("host")
        if not isinstance(host, str) or not host:
            problems.add(where + ".host", "required (an inventory hostname)")
        elif inventory_hosts is not None and host not in inventory_hosts:
            problems.add(where + ".host", "%r is not in the inventory" % host)
        elif host in seen:
            problems.add(where + ".host", "%s is listed twice" % host)
        elif host in job_hosts:
            # The gateway's input filter drops what the job's input filter would admit.
            problems.add(where + ".host", "%s also serves %s; a gateway serves no mail job" % (host, job_hosts[host]))
        seen.add(host)
        outside = _interface(problems, where + ".outside_interface", gateway.get("outside_interface"))
        inside = []
        raw_inside = _list(problems, where + ".inside_interfaces", gateway.get("inside_interfaces"))
        if not raw_inside:
            problems.add(where + ".inside_interfaces", "required: at least one inside leg")
        for position, name in enumerate(raw_inside):
            name = _interface(problems, "%s.inside_interfaces[%d]" % (where, position), name)
            if name and name == outside:
                problems.add("%s.inside_interfaces[%d]" % (where, position), "%s is the outside leg" % name)
            elif name:
                inside.append(name)
        gateways.append({"host": host, "outside_interface": outside, "inside_interfaces": inside})
    return gateways


def _published_ports(topology, job, server):
    """{outside, inside} port pairs of a published server: its job's port, plus 465 for implicit TLS."""
    ports = [{"outside": port, "inside": server["port"]} for port in PUBLISHABLE_JOBS[job]]
    implicit_tls_port = (topology.get("submission") or {}).get("implicit_tls_port") if job == "submission" else None
    if implicit_tls_port:
        ports.append({"outside": IMPLICIT_TLS_OUTSIDE_PORT, "inside": implicit_tls_port})
    return ports


def _published(problems, raw, topology):
    published = []
    by_outside = {}
    by_server = {}
    items = _list(problems, "publishing.published", raw)
    for index, entry in enumerate(items):
        where = "publishing.published[%d]" % index
        if not isinstance(entry, dict):
            problems.add(where, "must be a mapping with job, host and outside_address")
            continue
        _check_keys(problems, where, entry, PUBLISHED_KEYS)
        job = entry.get("job")
        if job == "hub":
            problems.add(where + ".job", "the hub is never published: only submission and inbound_relay servers are")
            continue
        if job not in PUBLISHABLE_JOBS:
            problems.add(where + ".job", "%r is not a publishable job; choose one of %s" % (job, ", ".join(sorted(PUBLISHABLE_JOBS))))
            continue
        servers = [server for server in _servers(topology, job) if server["host"] == entry.get("host")]
        if not servers:
            problems.add(where + ".host", "%r serves no %s job in this description" % (entry.get("host"), job))
            continue
        server = servers[0]
        outside = _address(problems, where + ".outside_address", entry.get("outside_address"))
        if outside is None:
            continue
        if server["address"] and ipaddress.ip_address(server["address"]).version != outside.version:
            problems.add(where + ".outside_address", "%s and the server's address %s are not of one IP version" % (outside, server["address"]))
            continue
        if server.get("loopback"):
            problems.add(where + ".host", "%s listens on the loopback address %s, which no gateway can reach" % (server["field"], server["address"]))
            continue
        key = (job, server["host"])
        if key in by_server:
            problems.add(where, "%s is already published by %s" % (server["field"], by_server[key]))
            continue
        by_server[key] = where
        ports = _published_ports(topology, job, server)
        for port in ports:
            other = by_outside.setdefault((outside, port["outside"]), where)
            if other != where:
                problems.add(where + ".outside_address", "%s port %d is already published by %s" % (outside, port["outside"], other))
        published.append({
            "job": job,
            "host": server["host"],
            "field": server["field"],
            "outside_address": str(outside),
            "ports": ports,
            "address": server["address"],
            "port": server["port"],
        })
    for job in sorted(PUBLISHABLE_JOBS):
        for server in _servers(topology, job):
            if (job, server["host"]) not in by_server and server["host"]:
                problems.add("publishing.published", "%s (%s on %s) has no outside address" % (server["field"], job, server["host"]))
    return published


def _management(problems, raw, topology):
    if not isinstance(raw, dict) or not raw.get("networks"):
        problems.add("publishing.management.networks", "required: the networks SSH/WinRM come from, which must stay reachable")
        return {"networks": [], "ports": []}
    _check_keys(problems, "publishing.management", raw, MANAGEMENT_KEYS)
    networks = []
    for index, value in enumerate(_list(problems, "publishing.management.networks", raw.get("networks"))):
        network = _network(problems, "publishing.management.networks[%d]" % index, value)
        if network is not None and network not in networks:
            networks.append(network)
    windows = any(server["platform"] != "postfix" for job in ("submission", "inbound_relay", "hub") for server in _servers(topology, job))
    ports = _ports(problems, "publishing.management.ports", raw.get("ports"), WINDOWS_MANAGEMENT_PORTS if windows else LINUX_MANAGEMENT_PORTS)
    if not ports:
        problems.add("publishing.management.ports", "required: at least one port (22 for SSH)")
    return {"networks": [str(network) for network in networks], "ports": ports}


def _rules(problems, raw, topology):
    hubs = [(ipaddress.ip_address(server["address"]), server["field"]) for server in _servers(topology, "hub") if server["address"]]
    rules = []
    for index, rule in enumerate(_list(problems, "publishing.rules", raw)):
        where = "publishing.rules[%d]" % index
        if not isinstance(rule, dict):
            problems.add(where, "must be a mapping with name, direction, source, destination, protocol and port")
            continue
        _check_keys(problems, where, rule, RULE_KEYS)
        name = rule.get("name")
        if not isinstance(name, str) or not _RULE_NAME.match(name):
            problems.add(where + ".name", "required: up to 64 letters, digits, spaces and _ . , : / ( ) + -")
        direction = rule.get("direction")
        if direction not in RULE_DIRECTIONS:
            problems.add(where + ".direction", "%r is not one of %s" % (direction, ", ".join(RULE_DIRECTIONS)))
        protocol = rule.get("protocol", "tcp")
        if protocol not in RULE_PROTOCOLS:
            problems.add(where + ".protocol", "%r is not one of %s" % (protocol, ", ".join(RULE_PROTOCOLS)))
        port = _ports(problems, where + ".port", [rule.get("port")], ())
        ends = {}
        for end in ("source", "destination"):
            value = rule.get(end, "any")
            ends[end] = None if value == "any" else _network(problems, "%s.%s" % (where, end), value)
        if ends["source"] and ends["destination"] and ends["source"].version != ends["destination"].version:
            problems.add(where, "source and destination are not of one IP version")
            continue
        if direction == "inbound":
            for hub, field in hubs:
                if ends["destination"] is None or hub in ends["destination"]:
                    problems.add(where + ".destination", "would expose the hub (%s, %s) to the outside" % (hub, field))
        rules.append({
            "name": name,
            "direction": direction,
            "source": str(ends["source"]) if ends["source"] else None,
            "destination": str(ends["destination"]) if ends["destination"] else None,
            "protocol": protocol,
            "port": port[0] if port else None,
        })
    return rules


def normalize(problems, raw, topology, inventory_hosts=None):
    """Validate the ``publishing`` part against the normalised jobs of ``topology``.

    ``problems`` collects the findings (``add(field, message)``); returns the
    normalised part, or None when the description publishes nothing.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add("publishing", "must be a mapping with gateways, published and management")
        return None
    _check_keys(problems, "publishing", raw, PUBLISHING_KEYS)
    dns_servers = []
    for index, value in enumerate(_list(problems, "publishing.dns_servers", raw.get("dns_servers"))):
        address = _address(problems, "publishing.dns_servers[%d]" % index, value)
        if address is not None and str(address) not in dns_servers:
            dns_servers.append(str(address))
    outbound = topology.get("outbound") or {}
    if outbound.get("method") == "dns" and not outbound.get("dns_servers") and not dns_servers and _servers(topology, "hub"):
        problems.add("publishing.dns_servers", "required: the hub sends by DNS, so some DNS server must be allowed to query the outside "
                     "(or name the outside ones in outbound.dns_servers)")
    return {
        "gateways": _gateways(problems, raw.get("gateways"), topology, inventory_hosts),
        "published": _published(problems, raw.get("published"), topology),
        "management": _management(problems, raw.get("management"), topology),
        "dns_servers": dns_servers,
        "rules": _rules(problems, raw.get("rules"), topology),
    }


# ---------------------------------------------------------------------------
# Derived rules. A rule is a dict the renderer turns into one nft statement:
#   comment, iif, oif, not_iif (interface names or None), family ("ip"/"ip6" or None),
#   saddr, daddr (lists of addresses/networks; empty = any), protocols (tuple),
#   dports (list), ct_state (e.g. "established,related"), ct_dnat (bool),
#   verdict ("accept"/"drop"/None), dnat ({address, port} or None)


def _family(text):
    return "ip6" if ipaddress.ip_network(text, strict=False).version == 6 else "ip"


def _by_family(addresses):
    """``{family: [address...]}`` so one rule never mixes IPv4 and IPv6 (nft refuses that)."""
    grouped = {}
    for address in addresses:
        grouped.setdefault(_family(address), []).append(address)
    return grouped


def _rule(comment, verdict="accept", **fields):
    rule = {
        "comment": comment, "iif": None, "oif": None, "not_iif": None, "family": None,
        "saddr": [], "daddr": [], "protocols": ("tcp",), "dports": [], "ct_dnat": False,
        "verdict": verdict, "dnat": None, "ct_state": None,
    }
    rule.update(fields)
    return rule


def _sourced_rules(comment, sources, family=None, **fields):
    """One rule per IP version of ``sources``: None means any source, an empty list nobody (no rule).

    With ``family`` (the destination's), only the sources of that IP version
    count; when none of them is, nobody is admitted and no rule comes out.
    """
    if sources is None:
        return [_rule(comment, family=family, **fields)]
    grouped = _by_family(sources)
    if family:
        grouped = {family: grouped[family]} if family in grouped else {}
    return [_rule(comment, family=group_family, saddr=group, **fields) for group_family, group in sorted(grouped.items())]


def _addresses(topology, job):
    return [server["address"] for server in _servers(topology, job) if server["address"]]


def _replies():
    return _rule("replies", ct_state="established,related", protocols=())


def _host_basics():
    """What every input filter admits first: loopback, replies, ICMP (IPv6 neighbour discovery needs it)."""
    return [_rule("loopback", iif="lo", protocols=()), _replies(), _rule("icmp", protocols=("icmp", "ipv6-icmp"))]


def _management_rules(publishing, **fields):
    management = publishing["management"]
    return _sourced_rules("management", management["networks"], dports=list(management["ports"]), **fields)


def _chain(name, kind, hook, priority, policy, rules):
    return {"name": name, "type": kind, "hook": hook, "priority": priority, "policy": policy, "rules": rules}


def gateway_rules(topology, host):
    """The chains of gateway ``host`` (prerouting DNAT, forward filter, input filter), or None."""
    publishing = topology.get("publishing")
    gateway = next((item for item in (publishing or {}).get("gateways", []) if item["host"] == host), None)
    if gateway is None:
        return None
    outside = gateway["outside_interface"]
    prerouting, forward, gateway_input = [], [_replies()], []
    for entry in publishing["published"]:
        family = _family(entry["address"])
        comment = "publish %s %s" % (entry["job"], entry["host"])
        for port in entry["ports"]:
            prerouting.append(_rule(comment, verdict=None, iif=outside, family=family, daddr=[entry["outside_address"]],
                                    dports=[port["outside"]], dnat={"address": entry["address"], "port": port["inside"]}))
            # Only connections that came through the DNAT: the inside address itself stays closed.
            forward.append(_rule(comment, iif=outside, family=family, daddr=[entry["address"]], dports=[port["inside"]], ct_dnat=True))

    hub_addresses = _addresses(topology, "hub")
    for hub in _servers(topology, "hub"):
        senders = _addresses(topology, "submission") + _addresses(topology, "inbound_relay")
        forward.extend(_sourced_rules("relays to hub %s" % hub["host"], senders, family=_family(hub["address"]),
                                      not_iif=outside, daddr=[hub["address"]], dports=[hub["port"]]))
    outbound = topology.get("outbound") or {}
    smarthost = outbound.get("smarthost")
    if smarthost:
        destination = []
        try:
            destination = [str(ipaddress.ip_address(smarthost["host"]))]
        except ValueError:
            pass  # a host name: its addresses are not known here, any destination on that port
        forward.extend(_sourced_rules("hub to smart host", hub_addresses, family=_family(destination[0]) if destination else None,
                                      oif=outside, daddr=destination, dports=[smarthost["port"]]))
    else:
        forward.extend(_sourced_rules("hub sends by DNS", hub_addresses, oif=outside, dports=[25]))
    forward.extend(_sourced_rules("DNS servers query the outside", publishing["dns_servers"], oif=outside,
                                  protocols=("tcp", "udp"), dports=[DNS_PORT]))
    if outbound.get("dns_servers"):
        for family, servers in sorted(_by_family(outbound["dns_servers"]).items()):
            forward.extend(_sourced_rules("hub asks its outside DNS servers", hub_addresses, family=family, oif=outside,
                                          protocols=("tcp", "udp"), dports=[DNS_PORT], daddr=servers))
    forward.extend(_management_rules(publishing))
    for rule in publishing["rules"]:
        ends = {"iif": outside} if rule["direction"] == "inbound" else {"oif": outside}
        forward.extend(_sourced_rules(rule["name"], [rule["source"]] if rule["source"] else None,
                                      family=_family(rule["destination"]) if rule["destination"] else None,
                                      protocols=(rule["protocol"],), daddr=[rule["destination"]] if rule["destination"] else [],
                                      dports=[rule["port"]], **ends))

    gateway_input.extend(_host_basics())
    gateway_input.extend(_management_rules(publishing))
    gateway_input.append(_rule("nothing else from the outside", verdict="drop", iif=outside, protocols=()))
    # No postrouting chain: published traffic keeps the client's own source address (no SNAT).
    return [
        _chain("prerouting", "nat", "prerouting", "dstnat", "accept", prerouting),
        _chain("forward", "filter", "forward", "filter", "drop", forward),
        # Inside legs reach the gateway as before; only the outside is shut.
        _chain("input", "filter", "input", "filter", "accept", gateway_input),
    ]


def host_input_rules(topology, host):
    """The input chain of a Postfix job host: its jobs' ports from who needs them, plus management; None if none."""
    publishing = topology.get("publishing")
    if not publishing:
        return None
    served = [server for job in ("submission", "inbound_relay", "hub") for server in _servers(topology, job) if server["host"] == host]
    if not served or any(server["platform"] != "postfix" for server in served):
        return None
    rules = _host_basics()
    for server in served:
        comment = "%s %s" % (server["job"], server["instance"])
        if server["job"] == "hub":
            senders = _addresses(topology, "submission") + _addresses(topology, "inbound_relay")
            rules.extend(_sourced_rules(comment, senders, family=_family(server["address"]),
                                        daddr=[server["address"]], dports=[server["port"]]))
        else:
            inside_ports = [port["inside"] for port in _published_ports(topology, server["job"], server)]
            rules.append(_rule(comment, family=_family(server["address"]), daddr=[server["address"]], dports=inside_ports))
    rules.extend(_management_rules(publishing))
    return [_chain("input", "filter", "input", "filter", "drop", rules)]


def host_chains(topology, host):
    """The chains of ``host``'s own table: a gateway's, a Postfix job host's input filter, or None."""
    return gateway_rules(topology, host) or host_input_rules(topology, host)


def firewalled_hosts(topology):
    """Sorted inventory hosts that get a table: every gateway and every Postfix job host."""
    publishing = topology.get("publishing")
    if not publishing:
        return []
    hosts = {gateway["host"] for gateway in publishing["gateways"]}
    hosts.update(server["host"] for job in ("submission", "inbound_relay", "hub") for server in _servers(topology, job)
                 if host_input_rules(topology, server["host"]))
    return sorted(hosts)
