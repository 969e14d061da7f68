# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validate a topology description on the controller (documentation: plugins/modules/topology.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_jobs, _topology
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._topology_action import normalize_or_fail

ARGUMENT_SPEC = {
    "description": {"type": "dict", "required": True},
    "inventory_hosts": {"type": "list", "elements": "str"},
    "return_jobs": {"type": "bool", "default": False},
}


def summarize(topology, jobs_by_host):
    """What the description deploys, without any secret: servers, wiring and audit targets."""
    servers = []
    hosts = {}
    for server in _topology.all_servers(topology):
        servers.append({key: server[key] for key in ("job", "host", "address", "port", "hostname", "platform", "instance")})
        hosts.setdefault(server["host"], []).append(server["job"])
    wiring = {}
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


def platform_hosts(jobs_by_host):
    """The hosts that Postfix instances alone do not serve, without any secret, so that a
    play asks with one look-up: ``windows_hosts`` serve at least one job on IIS or Exchange,
    ``dkim_hosts`` run a Postfix hub that signs with DKIM (its OpenDKIM milter). site.yml
    runs the job roles only there.
    """
    def serving(condition):
        return sorted(host for host, jobs in jobs_by_host.items() if any(condition(job, variables) for job, variables in jobs.items()))

    return {
        "windows_hosts": serving(lambda job, variables: variables["%s_platform" % job] != "postfix"),
        "dkim_hosts": serving(lambda job, variables: job == "hub" and variables["hub_platform"] == "postfix" and bool(variables.get("hub_dkim"))),
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
        jobs_by_host = _topology.jobs_by_host(topology)
        result.update(changed=False, **summarize(topology, jobs_by_host))
        if params["return_jobs"]:
            # The job variables carry the submission users' and the smart host's passwords:
            # the whole result is shown censored, as a task with no_log would be.
            result.update(jobs_by_host=jobs_by_host, _ansible_no_log=True, **platform_hosts(jobs_by_host))
            # The hubs of this play that trust a submission server's certificate on another host.
            play_hosts = (task_vars or {}).get("ansible_play_hosts") or []
            result["hub_foreign_certificates"] = _postfix_jobs.hub_foreign_certificates(jobs_by_host, list(play_hosts))
        found = _topology.warnings(topology)
        if found:
            result["warnings"] = found
        return result
