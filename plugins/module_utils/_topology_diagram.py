# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The topology as a Graphviz DOT graph: who serves which job where, the mail paths, the derived trust.

Pure text generation from a normalised topology (``_topology.normalize``):
the same description always gives the same bytes, whatever Graphviz later
draws from them. Nothing secret goes in: no password, no login, no smart host
user name, no key file; users are only counted.

- Hosts are grouped by network: each server's address in its IPv4 /24 or
  IPv6 /64 (configurable); a host with addresses in several networks sits in
  a group named after all of them.
- Mail paths: roaming users -> submission -> hub; Internet MTAs -> inbound
  relay -> hub; hub -> own mailboxes; hub -> Internet by DNS or by the smart
  host.
- Derived trust: the hub relays to any domain only for the submission
  servers' addresses (bold edges, and listed on the hub); the inbound relays
  reach it for the own domains only.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology

DEFAULT_IPV4_PREFIX = 24
DEFAULT_IPV6_PREFIX = 64
# Long lists (1,000 own domains, 1,000 relay clients) are cut to this many items in a label.
LIST_LIMIT = 4

ROAMING_USERS = "roaming_users"
INTERNET_SENDERS = "internet_senders"
MAILBOXES = "own_mailboxes"
OUTBOUND = "outbound"

JOB_TITLES = {"submission": "submission", "inbound_relay": "inbound relay", "hub": "hub"}
JOB_COLORS = {"submission": "#dbeafe", "inbound_relay": "#fef3c7", "hub": "#dcfce7"}


def quote(text):
    """A DOT double-quoted string whose text is shown as is (``\\n`` joins are added by label())."""
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def label(*lines):
    """One DOT label of several centred lines; each line's own text is escaped."""
    return '"%s"' % "\\n".join(quote(line)[1:-1] for line in lines if line)


def shortened(items, limit=LIST_LIMIT):
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return "%s and %d more" % (", ".join(items[:limit]), len(items) - limit)


def node_id(server, index):
    return "%s_%d" % (server["job"], index)


def network_of(address, ipv4_prefix, ipv6_prefix):
    ip = ipaddress.ip_address(address)
    prefix = ipv4_prefix if ip.version == 4 else ipv6_prefix
    return ipaddress.ip_network("%s/%d" % (ip, prefix), strict=False)


def _servers_with_ids(topology):
    """Every server with its node id, in description order (JOBS order, then server order)."""
    found = []
    for job in _topology.JOBS:
        for index, server in enumerate(_topology.servers_of(topology, job)):
            found.append((node_id(server, index), server))
    return found


def _groups(servers, ipv4_prefix, ipv6_prefix):
    """``[(networks, [(host, [(id, server)...])...])...]``, in address order, hosts in description order."""
    host_networks = {}
    for dummy, server in servers:
        host_networks.setdefault(server["host"], set()).add(network_of(server["address"], ipv4_prefix, ipv6_prefix))
    groups = {}
    for ident, server in servers:
        key = tuple(sorted(host_networks[server["host"]], key=lambda net: (net.version, net)))
        groups.setdefault(key, {}).setdefault(server["host"], []).append((ident, server))
    ordered = sorted(groups, key=lambda nets: [(net.version, int(net.network_address)) for net in nets])
    return [(nets, list(groups[nets].items())) for nets in ordered]


def _server_label(server, topology):
    lines = [
        "%s on %s" % (JOB_TITLES[server["job"]], server["host"]),
        server["hostname"],
        "%s port %d" % (server["address"], server["port"]),
        "%s: %s" % (server["platform"], server["instance"]),
    ]
    if server["job"] == "hub":
        clients = [client["address"] for client in _topology.servers_of(topology, "submission")]
        relays = [relay["address"] for relay in _topology.servers_of(topology, "inbound_relay")]
        lines.append("relays to any domain for: %s" % (shortened(clients) or "nobody"))
        lines.append("own domains from: %s" % (shortened(relays) or "no inbound relay"))
    return label(*lines)


def _outbound_label(outbound):
    if outbound["method"] == "smarthost":
        smarthost = outbound["smarthost"]
        return label("upstream smart host", "[%s]:%d" % (smarthost["host"], smarthost["port"]))
    return label("the Internet", "MX hosts of foreign domains")


def _outbound_edge_label(outbound):
    if outbound["method"] == "smarthost":
        smarthost = outbound["smarthost"]
        auth = ", AUTH" if smarthost.get("username") else ""
        return label("outbound through the smart host", "TLS %s%s" % (smarthost["tls"], auth))
    if outbound["dns_servers"]:
        return label("outbound by DNS (MX)", "asking %s" % shortened(outbound["dns_servers"]))
    return label("outbound by DNS (MX)")


def dot_source(topology, title=None, ipv4_prefix=DEFAULT_IPV4_PREFIX, ipv6_prefix=DEFAULT_IPV6_PREFIX):
    """The DOT text of a normalised ``topology`` (one ``digraph``, ending with a newline)."""
    servers = _servers_with_ids(topology)
    by_job = {job: [(ident, server) for ident, server in servers if server["job"] == job] for job in _topology.JOBS}
    domains = topology["domains"]
    heading = title or "mail topology of %s" % shortened(domains)
    out = [
        "digraph mailrelay_topology {",
        "  graph [rankdir=LR, fontname=Helvetica, fontsize=12, labelloc=t, nodesep=0.4, ranksep=1.0, label=%s];" % quote(heading),
        "  node [fontname=Helvetica, fontsize=10, shape=box, style=\"rounded,filled\", fillcolor=white];",
        "  edge [fontname=Helvetica, fontsize=9];",
        "",
        "  // Outside the topology",
    ]
    if by_job["submission"]:
        users = (topology.get("submission") or {}).get("users") or []
        out.append("  %s [shape=ellipse, label=%s];" % (ROAMING_USERS, label("roaming users", "%d account(s)" % len(users))))
    if by_job["inbound_relay"]:
        out.append("  %s [shape=ellipse, label=%s];" % (INTERNET_SENDERS, label("Internet MTAs", "mail for %s" % shortened(domains))))
    if by_job["hub"]:
        out.append("  %s [shape=cylinder, label=%s];" % (MAILBOXES, label("own mailboxes", shortened(domains))))
        out.append("  %s [shape=ellipse, label=%s];" % (OUTBOUND, _outbound_label(topology["outbound"])))

    for group_index, (networks, hosts) in enumerate(_groups(servers, ipv4_prefix, ipv6_prefix)):
        out.append("")
        out.append("  subgraph cluster_network_%d {" % group_index)
        out.append("    label=%s; style=dashed;" % quote("network %s" % ", ".join(str(net) for net in networks)))
        for host_index, (host, host_servers) in enumerate(hosts):
            out.append("    subgraph cluster_network_%d_host_%d {" % (group_index, host_index))
            out.append("      label=%s; style=\"rounded\";" % quote("host %s" % host))
            for ident, server in host_servers:
                out.append("      %s [fillcolor=%s, label=%s];" % (ident, quote(JOB_COLORS[server["job"]]), _server_label(server, topology)))
            out.append("    }")
        out.append("  }")

    out.append("")
    out.append("  // Mail paths; bold: the hub relays to any domain for this client (derived trust)")
    for ident, server in by_job["submission"]:
        out.append("  %s -> %s [label=%s];" % (ROAMING_USERS, ident, label("port %d" % server["port"], "AUTH after STARTTLS")))
        for hub_ident, hub in by_job["hub"]:
            out.append("  %s -> %s [style=bold, color=\"#1d4ed8\", label=%s];" % (
                ident, hub_ident, label("[%s]:%d" % (hub["address"], hub["port"]), "any domain (trusted)")))
    for ident, server in by_job["inbound_relay"]:
        out.append("  %s -> %s [label=%s];" % (INTERNET_SENDERS, ident, label("port %d" % server["port"], "own domains only")))
        for hub_ident, hub in by_job["hub"]:
            out.append("  %s -> %s [label=%s];" % (ident, hub_ident, label("[%s]:%d" % (hub["address"], hub["port"]), "own domains")))
    for hub_ident, dummy in by_job["hub"]:
        out.append("  %s -> %s [label=%s];" % (hub_ident, MAILBOXES, label("own domains")))
        out.append("  %s -> %s [label=%s];" % (hub_ident, OUTBOUND, _outbound_edge_label(topology["outbound"])))
    out.append("}")
    return "\n".join(out) + "\n"
