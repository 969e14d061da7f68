#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/iis_smtp_domain.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: iis_smtp_domain
short_description: Manage the remote and alias domains of an IIS SMTP virtual server
version_added: 0.1.0
description:
  - Creates, changes and removes the domains of one SMTP virtual server of the Windows "SMTP Server" feature
    (C(/LM/SMTPSVC/n/Domain/<name>) in the IIS 6 metabase).
  - A remote domain can allow relay (so that anonymous senders may send mail to it, which is what an inbound
    relay does for the own domains of the organisation), route its mail to a smart host of its own, use TLS
    and authenticate. An alias domain is delivered locally like the default domain.
  - All the domains of a virtual server are one task; with I(exclusive=true) the remote and alias domains the
    task does not list are removed. The default domain is never touched (see M(mailrelay.smtp.iis_smtp_server)).
  - However many domains the task lists, it costs one read and at most one apply call, through
    M(ansible.windows.win_powershell) over the host's own connection (WinRM, PSRP or SSH).
  - Refuses a wildcard remote domain (C(*) or C(*.tld)) that allows relay on an Internet-facing server unless
    I(allow_open_relay=true).
author: Mailrelay Maintainers (@mailrelay)
attributes:
  check_mode:
    support: full
    description: The read runs in check mode; the apply does not.
  diff_mode:
    support: full
    description: Before and after of each domain that changes; passwords are never shown.
  idempotent:
    support: partial
    description: A second run changes nothing, except with O(update_password=always), which writes the password every run.
extends_documentation_fragment:
  - mailrelay.smtp.iis_smtp
options:
  server:
    description: Display name (C(ServerComment)) of the virtual server; it must exist.
    type: str
    required: true
  domains:
    description: The domains, each given completely (an option left out takes its default).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Domain name; a remote domain may be a wildcard such as C(*.example.org).
        type: str
        required: true
      type:
        description: C(remote) (mail is sent on) or C(alias) (delivered locally like the default domain).
        type: str
        choices: [remote, alias]
        default: remote
      state:
        description: Whether the domain exists.
        type: str
        choices: [present, absent]
        default: present
      allow_relay:
        description:
          - Accept mail for this domain from anyone ("Allow incoming mail to be relayed to this domain",
            C(RouteAction) bit DOMAIN_RELAY). An inbound relay sets it for the organisation's own domains.
          - Unconfirmed. That this checkbox is bit 0x1000 is inferred from public material; the result's
            RV(unconfirmed) says so. If IIS ignored the bit, mail for the domain would be refused, not relayed elsewhere.
        type: bool
        default: false
      smart_host:
        description:
          - Send this domain's mail to this host (C(RouteActionString), C(RouteAction) bit SMARTHOST). An IPv4
            address is written in brackets so no MX lookup happens. Left out, the domain is delivered by DNS.
        type: str
      tls:
        description: Use TLS for this domain's outbound connections (C(RouteAction) bit SSL).
        type: bool
        default: false
      authentication:
        description: Outbound authentication to this domain's smart host.
        type: str
        choices: [anonymous, basic, integrated]
        default: anonymous
      username:
        description: Account for outbound authentication (C(RouteUserName)).
        type: str
      password:
        description: Password for outbound authentication (C(RoutePassword)); never read back or shown.
        type: str
  exclusive:
    description: Remove the remote and alias domains of the server that I(domains) does not list.
    type: bool
    default: false
  update_password:
    description:
      - C(on_change) writes a domain's password when the domain is created, its account or method changes, or no
        password is set; C(always) writes it every run.
    type: str
    choices: [always, on_change]
    default: on_change
  allow_cleartext_password:
    description: Allow basic authentication without I(tls), which sends the password in clear text.
    type: bool
    default: false
  internet_facing:
    description: The server can be reached from the Internet, so the open-relay rule applies.
    type: bool
    default: true
  allow_open_relay:
    description: Accept a wildcard remote domain that allows relay on an Internet-facing server.
    type: bool
    default: false
notes:
  - Which behaviours were confirmed on a live Windows host and which come from documentation only is listed in
    C(docs/windows.md). The RouteAction bit of "allow relay" is inferred from public samples.
  - IIS cannot check the recipients of a remote domain. An inbound relay accepts every address of its domains and
    the hub rejects unknown ones (a backscatter risk, see C(docs/windows.md)).
seealso:
  - module: mailrelay.smtp.iis_smtp_server
  - module: mailrelay.smtp.iis_smtp_info
"""

EXAMPLES = r"""
- name: Inbound relay accepts the own domains and hands them to the hub
  mailrelay.smtp.iis_smtp_domain:
    server: mailrelay inbound relay
    exclusive: true
    domains:
      - name: example.org
        allow_relay: true
        smart_host: 10.0.0.2
      - name: example.net
        allow_relay: true
        smart_host: 10.0.0.2

- name: An alias domain delivered locally
  mailrelay.smtp.iis_smtp_domain:
    server: mailrelay submission
    domains:
      - name: legacy.example.org
        type: alias

- name: Route one partner domain over an authenticated TLS connection
  mailrelay.smtp.iis_smtp_domain:
    server: mailrelay submission
    domains:
      - name: partner.example
        smart_host: mx.partner.example
        tls: true
        authentication: basic
        username: example-org
        password: "{{ vault_partner_password }}"
"""

RETURN = r"""
domains:
  description: Every domain of the virtual server after the task (in check mode, as it was), decoded.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Domain name.
      type: str
      sample: example.org
    type:
      description: C(remote), C(alias) or C(default).
      type: str
      sample: remote
    allow_relay:
      description: Remote domains only.
      type: bool
      sample: true
    smart_host:
      description: Remote domains only; empty when delivered by DNS.
      type: str
      sample: "[10.0.0.2]"
    route_action_flags:
      description: C(RouteAction) bits by name.
      type: list
      elements: str
      sample: [smarthost, domain_relay]
    password_set:
      description: Whether a password is stored (never the password).
      type: bool
unconfirmed:
  description:
    - Inferred facts about IIS that the task relied on and that no live host has confirmed yet (docs/windows.md lists
      them); check the result on your host.
  returned: when the task relies on one
  type: list
  elements: str
  sample: ["allow_relay is written as RouteAction bit 0x1000; ..."]
operations:
  description: The operations the apply call ran (or would run), without values.
  returned: always
  type: list
  elements: str
  sample: ["create_domain example.org", "set_property example.org RouteAction"]
"""
