# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exchange send connector (documentation: plugins/modules/exchange_send_connector.py)."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_send as send
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._exchange_action import ExchangeAction, with_session_options

ARGUMENT_SPEC = with_session_options({
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "usage": {"type": "str", "choices": sorted(send.USAGES), "default": "internet"},
    "address_spaces": {"type": "list", "elements": "str", "default": ["*"]},
    "routing": {"type": "str", "choices": ["dns", "smarthost"]},
    "smart_hosts": {"type": "list", "elements": "str"},
    "port": {"type": "int"},
    "tls": {"type": "str", "choices": ["none", "opportunistic", "required"], "default": "opportunistic"},
    "tls_auth_level": {"type": "str", "choices": sorted(send.TLS_AUTH_LEVELS)},
    "tls_domain": {"type": "str"},
    "smarthost_authentication": {"type": "str", "choices": sorted(send.AUTH), "default": "none"},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "update_password": {"type": "str", "choices": ["always", "on_create"], "default": "on_create"},
    "use_external_dns": {"type": "bool"},
    "source_transport_servers": {"type": "list", "elements": "str"},
    "max_message_size": {"type": "raw"},
    "fqdn": {"type": "str"},
    "enabled": {"type": "bool"},
})


class ActionModule(ExchangeAction):
    argument_spec = ARGUMENT_SPEC
    resource = send

    def read_scope(self, params):
        return {"SendConnector": params["name"]}

    def decode(self, params, raw):
        return send.find_connector(raw, params["name"])
