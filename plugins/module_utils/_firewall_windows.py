# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Windows Firewall rules of a Windows job host (IIS SMTP, Exchange), derived from the topology.

Each rule is a dict of the options of ``community.windows.win_firewall_rule``
(inbound, TCP, in the group ``mailrelay``, named ``mailrelay ...``), the same
rules the Postfix job hosts get in nftables (``_publishing.host_input_rules``):

- a published submission server or inbound relay: its ports on its own address
  from anywhere (the gateway forwards without source NAT);
- the hub: its port on its own address allowed only from the submission servers
  and inbound relays, and a block rule for every other source. Windows Firewall
  admits a connection when any allow rule matches, and Exchange Setup adds its
  own allow rules for its SMTP ports; a block rule takes precedence over allow
  rules ([MS-FASP] 2.2.34 FW_RULE_ACTION), so only the block rule keeps the
  hub's port closed to everyone else without touching rules the collection
  does not own;
- management (WinRM, SSH) from the management networks.

Nothing is derived without a ``publishing`` part.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.mailrelay.smtp.plugins.module_utils import _publishing

JOBS = ("submission", "inbound_relay", "hub")
# Rules the collection owns carry this group and a name that starts with NAME_PREFIX;
# only such rules are ever removed.
GROUP = "mailrelay"
NAME_PREFIX = "mailrelay "
_ALL = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}


def _servers(topology, job):
    return (topology.get(job) or {}).get("servers", [])


def _rule(name, description, localip, localport, remoteip, action="allow"):
    return {
        "name": NAME_PREFIX + name,
        "description": description,
        "group": GROUP,
        "direction": "in",
        "action": action,
        "protocol": "tcp",
        "localip": localip,
        "localport": ",".join(str(port) for port in localport),
        "remoteip": remoteip,
        "profiles": ["domain", "private", "public"],
        "enabled": True,
        "state": "present",
    }


def _version(address):
    return ipaddress.ip_network(address, strict=False).version


def _complement(addresses, version):
    """Address ranges ``first-last`` of IP ``version`` that none of ``addresses`` covers, comma-separated."""
    remaining = [_ALL[version]]
    for network in ipaddress.collapse_addresses(ipaddress.ip_network(address, strict=False) for address in addresses
                                                if _version(address) == version):
        remaining = [piece for block in remaining if not block.subnet_of(network)
                     for piece in (block.address_exclude(network) if network.subnet_of(block) else [block])]
    # Adjacent networks merge back into ranges, so the rule stays short.
    ranges = []
    for network in sorted(ipaddress.collapse_addresses(remaining)):
        if ranges and int(ranges[-1][1]) + 1 == int(network.network_address):
            ranges[-1][1] = network.broadcast_address
        else:
            ranges.append([network.network_address, network.broadcast_address])
    return ",".join("%s-%s" % (first, last) if first != last else str(first) for first, last in ranges)


def windows_rules(topology, host):
    """The Windows Firewall rules of ``host``; an empty list when it serves no job on Windows."""
    publishing = topology.get("publishing")
    served = [server for job in JOBS for server in _servers(topology, job)
              if server["host"] == host and server["platform"] != "postfix"]
    if not publishing or not served:
        return []
    senders = [server["address"] for job in ("submission", "inbound_relay") for server in _servers(topology, job)]
    rules = []
    for server in served:
        label = "%s %s" % (server["job"], server["instance"])
        if server["job"] == "hub":
            version = _version(server["address"])
            allowed = [address for address in senders if _version(address) == version]
            if allowed:
                rules.append(_rule(label, "the hub's SMTP port, only for the submission servers and inbound relays",
                                   server["address"], [server["port"]], ",".join(allowed)))
            others = _complement(allowed, version)
            if others:
                rules.append(_rule(label + " others", "the hub's SMTP port refused to everyone else (block wins over any allow rule)",
                                   server["address"], [server["port"]], others, action="block"))
        else:
            ports = [port["inside"] for port in _publishing._published_ports(topology, server["job"], server)]
            why = "the published %s port (the gateway keeps the client's own address)" % server["job"].replace("_", " ")
            rules.append(_rule(label, why, server["address"], ports, "any"))
    management = publishing["management"]
    rules.append(_rule("management", "management (WinRM, SSH) from the management networks", "any",
                       management["ports"], ",".join(management["networks"])))
    return rules
