# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DNS servers of an Exchange Transport service (documentation: plugins/modules/exchange_transport_dns.py)."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_transport as transport
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._exchange_action import ExchangeAction, with_session_options

ARGUMENT_SPEC = with_session_options({
    "server": {"type": "str", "required": True},
    "external_dns_servers": {"type": "list", "elements": "str"},
    "external_dns_adapter_enabled": {"type": "bool"},
    "external_dns_protocol": {"type": "str", "choices": sorted(transport.PROTOCOLS)},
    "internal_dns_servers": {"type": "list", "elements": "str"},
    "internal_dns_adapter_enabled": {"type": "bool"},
    "internal_dns_protocol": {"type": "str", "choices": sorted(transport.PROTOCOLS)},
})


class ActionModule(ExchangeAction):
    argument_spec = ARGUMENT_SPEC
    resource = transport

    def read_scope(self, params):
        return {"Server": params["server"], "TransportService": True}

    def decode(self, params, raw):
        return transport.decode(raw, params["server"])
