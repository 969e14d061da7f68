# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the controller-side action plugins that read a topology description share.

FOR INTERNAL COLLECTION USE ONLY: this interface may change in any release.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology


def normalize_or_fail(result, description, inventory_hosts=None):
    """The normalized topology; None, with ``result`` failed and naming every problem, when it is invalid."""
    try:
        return _topology.normalize(description, inventory_hosts)
    except _topology.TopologyError as exc:
        result.update(failed=True, changed=False, msg=str(exc), problems=exc.problems)
        return None
