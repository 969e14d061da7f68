# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DNS servers of an Exchange server's Transport service (Get/Set-TransportService).

External DNS servers are used for outbound lookups only when the external
DNS adapter is disabled, and by send connectors that have
UseExternalDNSServersEnabled. Server order matters and is compared as given.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils._windows_plan import ResourcePlan

PROTOCOLS = {"any": "Any", "tcp_only": "UseTcpOnly", "udp_only": "UseUdpOnly"}
_SIDES = ("external", "internal")
_PARAMETERS = {
    "dns_servers": "%sDNSServers",
    "dns_adapter_enabled": "%sDNSAdapterEnabled",
    "dns_protocol": "%sDNSProtocolOption",
}


def _address(value, option):
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ex.ExchangeInputError("%s: %r is not an IP address" % (option, value))


def _addresses(values, option):
    return ex.unique(_address(value, "%s[%d]" % (option, index)) for index, value in enumerate(values))


def build_desired(params):
    desired = {"server": ex.check_server_name(params["server"])}
    managed = False
    for side in _SIDES:
        servers = params.get(side + "_dns_servers")
        adapter = params.get(side + "_dns_adapter_enabled")
        servers = None if servers is None else _addresses(servers, side + "_dns_servers")
        if servers and adapter is None:
            # A list of servers means: use it, not the network adapter's DNS settings.
            adapter = False
        if servers and adapter:
            raise ex.ExchangeInputError(
                "%s_dns_adapter_enabled: Exchange ignores %s_dns_servers while the adapter's DNS settings are used; "
                "set it to false or leave it out" % (side, side)
            )
        protocol = params.get(side + "_dns_protocol")
        desired[side] = {
            "dns_servers": servers,
            "dns_adapter_enabled": adapter,
            "dns_protocol": PROTOCOLS[protocol] if protocol else None,
        }
        managed = managed or any(value is not None for value in desired[side].values())
    if not managed:
        raise ex.ExchangeInputError("external_dns_servers: nothing to manage; set at least one DNS option")
    return desired


def _prefix(side):
    return "External" if side == "external" else "Internal"


def decode(document, server):
    raw = document.get("transport_service")
    if not raw:
        return None
    state = {"server": raw.get("identity") or server}
    for side in _SIDES:
        prefix = _prefix(side)
        state[side] = {
            "dns_servers": [str(item) for item in raw.get(prefix.lower() + "_dns_servers") or []],
            "dns_adapter_enabled": bool(raw.get(prefix.lower() + "_dns_adapter_enabled")),
            "dns_protocol": raw.get(prefix.lower() + "_dns_protocol_option") or "Any",
        }
    return state


def view(state):
    if not state:
        return {}
    result = {"server": state["server"]}
    for side in _SIDES:
        for key, value in state[side].items():
            result["%s_%s" % (side, key)] = list(value) if isinstance(value, list) else value
    return result


def plan(desired, current):
    """The ResourcePlan; a missing transport service is an error."""
    if current is None:
        raise ex.ExchangeInputError("server: %s has no Transport service (is it a Mailbox server?)" % desired["server"])
    changes, changed_fields = {}, []
    after = {"server": current["server"]}
    for side in _SIDES:
        after[side] = {}
        for key, template in _PARAMETERS.items():
            want, have = desired[side][key], current[side][key]
            if want is not None and want != have:
                # An empty list clears the servers ($null for the cmdlet).
                changes[template % _prefix(side)] = (want or None) if key == "dns_servers" else want
                changed_fields.append("%s_%s" % (side, key))
            after[side][key] = want if want is not None else have
    ops = []
    if changes:
        ops.append(ex.operation("set_transport_service", ", ".join(changed_fields), dict(changes, Identity=desired["server"])))
    return ResourcePlan(ops, view(current), view(after))


def report(current):
    return {"transport_service": view(current)}
