# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
    # The attributes of the modules that run on the controller and change nothing anywhere
    # (topology, dns_records, dns_check): they derive from the description or only query.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Nothing is changed in any mode (the module derives or queries only), so check mode runs the same.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  platform:
    support: full
    platforms: all
    description: Runs on the controller only.
"""
