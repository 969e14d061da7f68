# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn the topology's publishing part into each host's firewall (docs in the .yml files beside this one)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mailrelay.smtp.plugins.module_utils import _firewall_windows, _nftables, _publishing, _topology


def _normalize(description):
    try:
        return _topology.normalize(description)
    except _topology.TopologyError as exc:
        raise AnsibleFilterError(str(exc))


def publishing_firewall(description, host):
    """``{table, gateway, ipv6, windows_rules}`` of ``host``: its nftables table text ('' when it gets none)
    and, for a Windows job host, its Windows Firewall rules."""
    topology = _normalize(description)
    chains = _publishing.host_chains(topology, host)
    gateway = any(item["host"] == host for item in (topology.get("publishing") or {}).get("gateways", []))
    text = _nftables.render_table("inet", _publishing.TABLE_NAME, chains) if chains else ""
    ipv6 = any(rule.get("family") == "ip6" for chain in chains or [] for rule in chain["rules"])
    return {"table": text, "gateway": gateway, "ipv6": ipv6, "windows_rules": _firewall_windows.windows_rules(topology, host)}


def publishing_firewalled_hosts(description):
    """Sorted inventory hostnames that get the collection's nftables table."""
    return _publishing.firewalled_hosts(_normalize(description))


class FilterModule:
    def filters(self):
        return {
            "publishing_firewall": publishing_firewall,
            "publishing_firewalled_hosts": publishing_firewalled_hosts,
        }
