# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only view of Exchange relay settings (documentation: plugins/modules/exchange_info.py)."""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _exchange_info as info
from ansible_collections.mailrelay.smtp.plugins.plugin_utils._exchange_action import ExchangeAction, with_session_options

ARGUMENT_SPEC = with_session_options({
    "server": {"type": "str"},
    "gather_subset": {"type": "list", "elements": "str", "choices": list(info.SUBSETS), "default": ["all"]},
})


class ActionModule(ExchangeAction):
    argument_spec = ARGUMENT_SPEC
    supports_apply = False

    def build_desired(self, params):
        return info.subsets(params)

    def read_scope(self, params):
        return info.read_scope(params)

    def decode(self, params, raw):
        return raw

    def report(self, params, desired, current, plan):
        return info.report(params, desired, current)
