# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one shape of a Windows resource's plan, for IIS SMTP and Exchange alike.

Every ``plan`` function of the IIS (``_metabase_server``, ``_metabase_domain``)
and Exchange (``_exchange_receive``, ``_exchange_send``, ``_exchange_transport``,
``_exchange_domains``) resources returns a :class:`ResourcePlan`; the action
plugins' base class (plugin_utils/_windows_resource.py) runs it.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations


class ResourcePlan:
    """What a resource must do: typed operations for the payload's apply mode, plus a readable diff.

    ``before``/``after`` describe the resource (dicts, or text once the action plugin renders them);
    ``secrets`` maps a name to a secret value, and operations refer to secrets by that name so that
    no secret travels in ``Operations``; ``warnings`` are shown whether or not the plan is applied;
    ``unconfirmed`` holds the texts of inferred facts about the host the plan relies on.
    """

    def __init__(self, operations=None, before=None, after=None, secrets=None, warnings=None, unconfirmed=None):
        self.operations = list(operations or [])
        self.before = before if before is not None else {}
        self.after = after if after is not None else {}
        self.secrets = dict(secrets or {})
        self.warnings = list(warnings or [])
        self.unconfirmed = list(unconfirmed or [])

    def __bool__(self):
        return bool(self.operations)

    def relies_on(self, text):
        """Record an unconfirmed fact the plan depends on (once)."""
        if text not in self.unconfirmed:
            self.unconfirmed.append(text)
