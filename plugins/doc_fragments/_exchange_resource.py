# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # What the Exchange modules share besides their session options (doc fragment exchange_session):
    # how they run, their attributes, the status note and the references. A module overrides an
    # attribute's description (or support) where it differs.
    # Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
    DOCUMENTATION = r"""
attributes:
  action:
    support: full
    description:
      - An action plugin validates the options and does all comparing and planning on the controller; the managed
        host only runs the collection's fixed PowerShell payload, with the task's values as parameters.
  check_mode:
    support: full
    description: Reads the current state in one round trip and reports what would change, without any apply call.
  diff_mode:
    support: full
    description: The diff shows every managed setting, one per line.
  platform:
    support: full
    platforms: windows
    description: A Windows host that is an Exchange server, or reaches one through its remote PowerShell endpoint.
  idempotent:
    support: full
    description: A second run with the same options reads once and changes nothing.
  action_group:
    support: full
    description: Use C(group/mailrelay.smtp.exchange) in C(module_defaults) to set the session options once.
    membership:
      - mailrelay.smtp.exchange
notes:
  - Behaviours confirmed on a live Exchange server and behaviours taken from documentation only are listed in
    C(docs/exchange.md) of the collection. None has been confirmed on a live server yet.
seealso:
  - module: ansible.windows.win_powershell
    description: Runs the Exchange payload on the managed host, over WinRM, PSRP or SSH.
  - name: Exchange PowerShell reference
    description: The Exchange cmdlets the payload calls, with their parameters.
    link: https://learn.microsoft.com/powershell/module/exchange/
"""

    # The state option of the connector modules (exchange_receive_connector, exchange_send_connector).
    CONNECTOR_STATE = r"""
options:
  state:
    description:
      - V(absent) removes the connector.
    type: str
    choices: [present, absent]
    default: present
"""
