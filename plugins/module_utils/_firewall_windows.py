# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Windows Firewall rules of a Windows job host (IIS SMTP, Exchange), derived from the topology.

Each rule is a dict of the options of ``community.windows.win_firewall_rule``
(inbound, allow, TCP, in the group ``mailrelay``), one per job the host serves,
admitting its port on its own address only from the sources that need it: the
published submission server and inbound relays from anywhere (the gateway
forwards without source NAT), the hub only from the submission servers and
inbound relays. One more rule keeps the management ports (WinRM, SSH) open to
the management networks. Nothing is derived without a ``publishing`` part.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

JOBS = ("submission", "inbound_relay", "hub")
GROUP = "mailrelay"


def _servers(topology, job):
    return (topology.get(job) or {}).get("servers", [])


def _rule(name, description, localip, localport, remoteip):
    return {
        "name": name,
        "description": description,
        "group": GROUP,
        "direction": "in",
        "action": "allow",
        "protocol": "tcp",
        "localip": localip,
        "localport": str(localport),
        "remoteip": remoteip,
        "profiles": ["domain", "private", "public"],
        "enabled": True,
        "state": "present",
    }


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
        if server["job"] == "hub":
            if not senders:
                continue  # nobody forwards to it: no rule, the port stays closed
            remote = ",".join(senders)
            why = "the hub's SMTP port, only for the submission servers and inbound relays"
        else:
            remote = "any"
            why = "the published %s port (the gateway keeps the client's own address)" % server["job"].replace("_", " ")
        rules.append(_rule("mailrelay %s %s" % (server["job"], server["instance"]), why, server["address"], server["port"], remote))
    management = publishing["management"]
    rules.append(_rule("mailrelay management", "management (WinRM, SSH) from the management networks", "any",
                       ",".join(str(port) for port in management["ports"]), ",".join(management["networks"])))
    return rules
