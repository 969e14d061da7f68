# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dedicated Exchange receive connector (documentation: plugins/modules/exchange_receive_connector.py)."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange as ex
from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_receive as receive
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._exchange_action import ExchangeAction, with_session_options

ARGUMENT_SPEC = with_session_options({
    "server": {"type": "str", "required": True},
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "transport_role": {"type": "str", "choices": list(receive.TRANSPORT_ROLES), "default": "FrontendTransport"},
    "bindings": {"type": "list", "elements": "str"},
    "remote_ip_ranges": {"type": "list", "elements": "str"},
    "permission_groups": {"type": "list", "elements": "str", "choices": list(receive.PERMISSION_GROUPS)},
    "auth_mechanisms": {"type": "list", "elements": "str", "choices": list(receive.AUTH_MECHANISMS)},
    "require_tls": {"type": "bool"},
    "fqdn": {"type": "str"},
    "max_message_size": {"type": "raw"},
    "enabled": {"type": "bool"},
    "anonymous_relay": {"type": "bool", "default": False},
    "permissions": {
        "type": "list",
        "elements": "dict",
        "options": {
            "principal": {"type": "str", "required": True},
            "rights": {"type": "list", "elements": "str", "required": True},
            "deny": {"type": "bool", "default": False},
        },
    },
    "exclusive": {"type": "bool", "default": True},
    "allow_broad_relay": {"type": "bool", "default": False},
})


class ActionModule(ExchangeAction):
    argument_spec = ARGUMENT_SPEC
    required_if = [["state", "present", ["remote_ip_ranges"]]]
    resource = receive

    def read_scope(self, params):
        return {
            "Server": params["server"],
            "ReceiveConnector": params["name"],
            "Principals": receive.principal_names(params) if params["state"] == "present" else [],
        }

    def decode(self, params, raw):
        identity = ex.connector_identity(params["server"], params["name"])
        return {"connector": receive.find_connector(raw, identity), "principal_sids": raw.get("principal_sids") or {}}

    def plan(self, params, desired, current):
        # Account names in ``permissions`` became SIDs in the same read.
        receive.resolve_declared(desired, current["principal_sids"])
        return super().plan(params, desired, current["connector"])

    def report(self, params, desired, current, plan):
        return dict(receive.report(current["connector"]), identity=desired["identity"])
