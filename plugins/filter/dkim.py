# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DKIM keys a host of the topology holds (docs in topology_dkim_keys.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim, _topology


def topology_dkim_keys(description, host):
    """The DKIM keys of the Postfix hub that ``host`` serves; none without ``dkim`` or a hub there."""
    try:
        topology = _topology.normalize(description)
    except _topology.TopologyError as exc:
        raise AnsibleFilterError(str(exc))
    keys = []
    for hub in _topology.servers_of(topology, "hub"):
        if hub["host"] == host:
            keys.extend((_dkim.hub_signing(topology, hub) or {}).get("keys", []))
    return keys


class FilterModule:
    def filters(self):
        return {"topology_dkim_keys": topology_dkim_keys}
