# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that read the topology description (docs in the .yml files beside this one).

They are filters rather than task results so that the secrets a job needs
(submission passwords, smart host credentials) reach the roles as variables
and never appear in a task result or in ``-v`` output.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology, _topology_diagram


def _normalize(description, inventory_hosts=None):
    try:
        return _topology.normalize(description, inventory_hosts)
    except _topology.TopologyError as exc:
        raise AnsibleFilterError(str(exc))


def topology_jobs(description, host, inventory_hosts=None):
    """Role variables of the jobs ``host`` serves, keyed by job.

    Validates the whole description at each call: a play with many hosts
    derives once with topology_jobs_by_host and looks each host up.
    """
    return _topology.host_jobs(_normalize(description, inventory_hosts), host)


def topology_jobs_by_host(description, inventory_hosts=None):
    """topology_jobs of every host that serves a job, keyed by inventory hostname; one validation."""
    return _topology.jobs_by_host(_normalize(description, inventory_hosts))


def topology_hosts(description):
    """Sorted inventory hostnames that serve at least one job."""
    topology = _normalize(description)
    return sorted({server["host"] for server in _topology.all_servers(topology)})


def topology_audit_targets(description):
    """One relay_audit target per server of the topology."""
    return _topology.audit_targets(_normalize(description), credentials=True)


def topology_diagram(description, title=None, ipv4_prefix=_topology_diagram.DEFAULT_IPV4_PREFIX,
                     ipv6_prefix=_topology_diagram.DEFAULT_IPV6_PREFIX):
    """Graphviz DOT source of the description: hosts by network, mail paths, derived trust; no secret."""
    for name, value, most in (("ipv4_prefix", ipv4_prefix, 32), ("ipv6_prefix", ipv6_prefix, 128)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
            raise AnsibleFilterError("topology_diagram: %s must be a prefix length between 0 and %d, got %r" % (name, most, value))
    if title is not None and not isinstance(title, str):
        raise AnsibleFilterError("topology_diagram: title must be a string, got %r" % (title,))
    return _topology_diagram.dot_source(_normalize(description), title, ipv4_prefix, ipv6_prefix)


class FilterModule:
    def filters(self):
        return {
            "topology_jobs": topology_jobs,
            "topology_jobs_by_host": topology_jobs_by_host,
            "topology_hosts": topology_hosts,
            "topology_audit_targets": topology_audit_targets,
            "topology_diagram": topology_diagram,
        }
