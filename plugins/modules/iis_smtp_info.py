#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/iis_smtp_info.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: iis_smtp_info
short_description: Read every IIS SMTP virtual server and domain, decoded
version_added: 0.1.0
description:
  - Returns the state of every SMTP virtual server of the Windows "SMTP Server" feature (IIS 6 metabase) and of
    their domains, decoded. Bindings, authentication methods and flags come by name, the relay restrictions and
    the connection control as addresses and networks, with the smart host, the outbound security, and the
    reasons a server may be an open relay.
  - The keys match the options of M(mailrelay.smtp.iis_smtp_server) and M(mailrelay.smtp.iis_smtp_domain), so the
    result describes an existing server for a topology description.
  - One read call through M(ansible.windows.win_powershell) over the host's own connection (WinRM, PSRP or SSH).
  - A relay list that cannot be decoded (for example the broken default of Windows Server 2022) is reported with
    the reason, not a failure.
author: Mailrelay Maintainers (@mailrelay)
attributes:
  check_mode:
    support: full
    description: Read-only.
  diff_mode:
    support: none
    description: Read-only.
extends_documentation_fragment:
  - mailrelay.smtp.iis_smtp
options:
  name:
    description: Return only the virtual server with this display name.
    type: str
  include_domains:
    description: Read the domains of every virtual server too.
    type: bool
    default: true
notes:
  - Passwords are never read; C(outbound_password_set) and C(password_set) only say whether one is stored.
seealso:
  - module: mailrelay.smtp.iis_smtp_server
  - module: mailrelay.smtp.iis_smtp_domain
"""

EXAMPLES = r"""
- name: Read the IIS SMTP configuration
  mailrelay.smtp.iis_smtp_info:
  register: iis_smtp

- name: Fail when any virtual server may relay for anonymous clients
  ansible.builtin.assert:
    that: iis_smtp.servers | map(attribute='open_relay_risks') | flatten | length == 0
    fail_msg: "{{ iis_smtp.servers | map(attribute='open_relay_risks') | flatten }}"
"""

RETURN = r"""
service_status:
  description: Status of the SMTPSVC service (C(Running), C(Stopped)...), C(null) when it is not installed.
  returned: always
  type: str
  sample: Running
servers:
  description: The virtual servers, by index.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: Metabase index.
      type: int
      sample: 1
    name:
      description: Display name (C(ServerComment)).
      type: str
      sample: "[SMTP Virtual Server #1]"
    state:
      description: C(started), C(stopped)...
      type: str
    bindings:
      description: C(address:port), C(*) for all unassigned addresses.
      type: list
      elements: str
      sample: ["*:25"]
    all_unassigned:
      description: Whether a binding listens on all unassigned addresses.
      type: bool
      sample: true
    authentication:
      description: Accepted inbound methods.
      type: list
      elements: str
    auth_flags:
      description: Every C(AuthFlags) bit by name.
      type: list
      elements: str
    relay_ip_list:
      description: C(grant_by_default) and C(entries), a string when not set, or C(error) when undecodable.
      type: raw
    connection_ip_list:
      description: As I(relay_ip_list), for connection control.
      type: raw
    route_action_flags:
      description: Server-level C(RouteAction) bits by name.
      type: list
      elements: str
    open_relay_risks:
      description: Why the server may relay for anonymous clients; empty when it does not.
      type: list
      elements: str
    domains:
      description: Its domains (with I(include_domains)), as returned by M(mailrelay.smtp.iis_smtp_domain).
      type: list
      elements: dict
"""
