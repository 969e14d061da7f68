# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validate a topology description on the controller (documentation: plugins/modules/topology.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._topology_action import normalize_or_fail

ARGUMENT_SPEC = {
    "description": {"type": "dict", "required": True},
    "inventory_hosts": {"type": "list", "elements": "str"},
}


def summarize(topology):
    """What the description deploys, without any secret: servers, wiring and audit targets."""
    servers = []
    hosts = {}
    for server in _topology.all_servers(topology):
        servers.append({key: server[key] for key in ("job", "host", "address", "port", "hostname", "platform", "instance")})
        hosts.setdefault(server["host"], []).append(server["job"])
    wiring = {}
    jobs_by_host = _topology.jobs_by_host(topology)
    for host in sorted(hosts):
        for job, variables in jobs_by_host[host].items():
            wiring.setdefault(host, {})[job] = {
                name: variables[name]
                for name in sorted(variables)
                if name.endswith(("_next_hops", "_relay_clients", "_inbound_relays", "_outbound_method"))
            }
    return {
        "domains": topology["domains"],
        "servers": servers,
        "hosts": hosts,
        "wiring": wiring,
        # Without own_domains: the list above says them once (a topology may have 1,000).
        "audit_targets": [
            {key: value for key, value in target.items() if key != "own_domains"} for target in _topology.audit_targets(topology)
        ],
    }


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        topology = normalize_or_fail(result, params["description"], params["inventory_hosts"])
        if topology is None:
            return result
        result.update(changed=False, **summarize(topology))
        found = _topology.warnings(topology)
        if found:
            result["warnings"] = found
        return result
