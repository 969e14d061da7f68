#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/exchange_info.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: exchange_info
short_description: Show an Exchange server's connectors, relay permissions, accepted domains and transport DNS
version_added: 0.1.0
author: Mailrelay Maintainers (@mailrelay)
description:
  - Reads, in one round trip and without changing anything, the receive connectors of one server (with their
    extended-right permissions by SID and whether anonymous senders may relay), the organisation's send connectors
    and accepted domains, and the DNS settings of the server's Transport service.
extends_documentation_fragment:
  - mailrelay.smtp._exchange_resource
  - mailrelay.smtp.exchange_session
attributes:
  check_mode:
    description: Reads in one round trip and changes nothing, in any mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
options:
  server:
    description:
      - The Exchange server whose receive connectors and Transport service are read. Required for those subsets.
    type: str
  gather_subset:
    description:
      - What to read. V(permissions) implies V(receive_connectors) and costs one C(Get-ADPermission) call per
        connector inside the same round trip.
    type: list
    elements: str
    choices: [all, receive_connectors, permissions, send_connectors, accepted_domains, transport_dns]
    default: [all]
seealso:
  - module: mailrelay.smtp.exchange_receive_connector
  - module: mailrelay.smtp.exchange_send_connector
"""

EXAMPLES = r"""
- name: Which connectors let anonymous senders relay?
  mailrelay.smtp.exchange_info:
    server: EX01
    gather_subset: [permissions]
  register: exchange

- name: Show them
  ansible.builtin.debug:
    msg: "{{ exchange.receive_connectors | selectattr('anonymous_relay') | map(attribute='identity') | list }}"
"""

RETURN = r"""
receive_connectors:
  description:
    - Receive connectors of O(server), each in the form of RV(mailrelay.smtp.exchange_receive_connector#module:connector)
      plus the keys below.
  returned: when O(gather_subset) includes receive_connectors or permissions
  type: list
  elements: dict
  contains:
    identity:
      description: C(SERVER\\Name).
      type: str
    default_connector:
      description: Whether this is one of Exchange's default connectors.
      type: bool
    permissions:
      description: Receive-connector permissions (one entry per right), with C(sid), C(user), C(right), C(deny), C(inherited).
      type: list
      elements: dict
      returned: when O(gather_subset) includes permissions
    anonymous_relay:
      description: Whether anonymous senders may relay.
      type: bool
      returned: when O(gather_subset) includes permissions
  sample:
    - identity: EX01\mailrelay relay
      default_connector: false
      anonymous_relay: true
      permissions:
        - {sid: S-1-5-7, user: NT AUTHORITY\ANONYMOUS LOGON, right: ms-Exch-SMTP-Accept-Any-Recipient, deny: false, inherited: false}
    - identity: EX01\Default Frontend EX01
      default_connector: true
      anonymous_relay: false
send_connectors:
  description: Send connectors, in the form returned by M(mailrelay.smtp.exchange_send_connector).
  returned: when O(gather_subset) includes send_connectors
  type: list
  elements: dict
  sample:
    - name: mailrelay outbound
      address_spaces: ["SMTP:*;1"]
      routing: dns
      smart_hosts: []
      use_external_dns: true
accepted_domains:
  description: Accepted domains, as in RV(mailrelay.smtp.exchange_accepted_domain#module:accepted_domains).
  returned: when O(gather_subset) includes accepted_domains
  type: list
  elements: dict
  sample:
    - {name: corp.example, domain: corp.example, type: Authoritative, default: true, match_subdomains: false}
    - {name: lab.corp.example, domain: lab.corp.example, type: InternalRelay, default: false, match_subdomains: false}
transport_service:
  description: DNS settings of the server's Transport service, as in RV(mailrelay.smtp.exchange_transport_dns#module:transport_service).
  returned: when O(gather_subset) includes transport_dns
  type: dict
  sample:
    server: EX01
    external_dns_servers: [192.0.2.53]
    external_dns_adapter_enabled: false
    external_dns_protocol: Any
    internal_dns_servers: []
    internal_dns_adapter_enabled: true
    internal_dns_protocol: Any
"""
