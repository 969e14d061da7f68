# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Where the IIS SMTP modules run and how they reach the Windows host.
    # Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
    DOCUMENTATION = r"""
attributes:
  platform:
    support: full
    platforms: windows
    description: Runs on the controller and reaches the Windows host through M(ansible.windows.win_powershell).
  idempotent:
    support: full
    description: A second run with the same options reads once and changes nothing.
  action_group:
    support: full
    description: Use C(group/mailrelay.smtp.iis_smtp) in C(module_defaults) to set shared options such as C(internet_facing) once.
    membership:
      - mailrelay.smtp.iis_smtp
"""
