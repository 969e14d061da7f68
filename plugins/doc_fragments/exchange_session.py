# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How the Exchange modules reach the Exchange cmdlets.
    # Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
    DOCUMENTATION = r"""
options:
  session:
    description:
      - How the fixed PowerShell payload reaches the Exchange cmdlets on the managed Windows host.
      - V(remote) (the default) opens a session to the Exchange remote PowerShell endpoint (configuration
        C(Microsoft.Exchange)) and imports only the cmdlets the task's operations need. The endpoint runs in
        NoLanguage mode, so the payload calls cmdlets one by one with parameters and never sends a script block.
        The managed host may be the Exchange server itself or any domain member that reaches it.
        Give O(session_username) and O(session_password), because over WinRM the payload's connection to the endpoint
        is a second hop, and without them it works only with CredSSP or Kerberos delegation (the module warns).
      - V(local) runs on an Exchange server and loads the Exchange management snap-in
        (C(Microsoft.Exchange.Management.PowerShell.SnapIn)) unless the cmdlets are already loaded.
        Microsoft does not support loading the snap-in for administration, it bypasses role based access
        control, and over WinRM its calls to Active Directory are a second hop, so it needs CredSSP, Kerberos
        delegation or C(become). The module warns when it is used.
    type: str
    choices: [local, remote]
    default: remote
  connection_uri:
    description:
      - The remote endpoint for O(session=remote), for example C(http://ex01.corp.example/PowerShell/).
      - Use the server's FQDN (Kerberos needs it), not an IP address.
      - Defaults to C(http://<FQDN of the managed host>/PowerShell/).
    type: str
  session_authentication:
    description:
      - Authentication for O(session=remote).
    type: str
    choices: [kerberos, negotiate, default]
    default: kerberos
  session_username:
    description:
      - Account for the remote session (O(session=remote)), for example C(CORP\\mailadmin).
      - Needed when the managed host cannot delegate the Ansible connection's credentials to the Exchange
        server (the Kerberos second hop over WinRM without CredSSP or delegation).
      - The account needs Exchange roles that allow the cmdlets (Organization Management, or a custom
        role group with the receive connector, send connector, accepted domain, transport service and
        ADPermission cmdlets).
    type: str
  session_password:
    description:
      - Password of O(session_username). Sent to the host as a SecureString parameter, never in the script text,
        and never returned.
    type: str
notes:
  - The payload runs through M(ansible.windows.win_powershell) over the host's own connection, so WinRM, PSRP
    and SSH connections all work.
  - Errors from a missing snap-in, an unreachable endpoint or denied Exchange permissions are reported as such,
    with what to check.
"""
