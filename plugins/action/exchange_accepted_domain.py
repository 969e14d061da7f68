# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exchange accepted domains (documentation: plugins/modules/exchange_accepted_domain.py)."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_domains as domains
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._exchange_action import ExchangeAction, with_session_options

ARGUMENT_SPEC = with_session_options({
    "domains": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "domain": {"type": "str", "required": True},
            "name": {"type": "str"},
            "type": {"type": "str", "choices": sorted(domains.DOMAIN_TYPES), "default": "authoritative"},
            "match_subdomains": {"type": "bool"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
    },
    "default_domain": {"type": "str"},
})


class ActionModule(ExchangeAction):
    argument_spec = ARGUMENT_SPEC
    resource = domains

    def read_scope(self, params):
        return {"AcceptedDomains": True}

    def decode(self, params, raw):
        return domains.decode(raw)
