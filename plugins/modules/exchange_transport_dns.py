#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/exchange_transport_dns.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: exchange_transport_dns
short_description: Set the DNS servers of an Exchange server's Transport service
version_added: 0.1.0
author: Mailrelay Maintainers (@mailrelay)
description:
  - Sets the external DNS servers (used for outbound MX lookups by send connectors with
    C(UseExternalDNSServersEnabled)) and the internal DNS servers of the Transport service of one
    Exchange server (C(Set-TransportService)), and whether the network adapter's DNS settings are used instead.
  - Server order matters and is compared as given. An empty list clears the servers.
  - Only the options given are managed. One read and at most one apply round trip.
extends_documentation_fragment:
  - mailrelay.smtp._exchange_resource
  - mailrelay.smtp.exchange_session
options:
  server:
    description:
      - The Exchange server whose Transport service is configured. Run the task once per server.
    type: str
    required: true
  external_dns_servers:
    description:
      - External DNS servers (IP addresses), in order. A non-empty list implies
        O(external_dns_adapter_enabled=false) unless that option is given.
    type: list
    elements: str
  external_dns_adapter_enabled:
    description:
      - Use the network adapter's DNS settings for external lookups (Exchange's default) instead of
        O(external_dns_servers).
    type: bool
  external_dns_protocol:
    description:
      - Protocol for external lookups.
    type: str
    choices: [any, tcp_only, udp_only]
  internal_dns_servers:
    description:
      - The same as O(external_dns_servers), for lookups of the organisation's own names (with
        O(internal_dns_adapter_enabled)).
    type: list
    elements: str
  internal_dns_adapter_enabled:
    description:
      - Use the network adapter's DNS settings for internal lookups.
    type: bool
  internal_dns_protocol:
    description:
      - Protocol for internal lookups.
    type: str
    choices: [any, tcp_only, udp_only]
seealso:
  - module: mailrelay.smtp.exchange_send_connector
"""

EXAMPLES = r"""
- name: Resolve Internet mail domains through two chosen DNS servers
  mailrelay.smtp.exchange_transport_dns:
    server: EX01
    external_dns_servers: [192.0.2.53, 198.51.100.53]

- name: Back to the network adapter's DNS settings
  mailrelay.smtp.exchange_transport_dns:
    server: EX01
    external_dns_servers: []
    external_dns_adapter_enabled: true
"""

RETURN = r"""
transport_service:
  description: The Transport service's DNS settings after the task.
  returned: always
  type: dict
  contains:
    server:
      description: The server.
      type: str
    external_dns_servers:
      description: External DNS servers.
      type: list
      elements: str
    external_dns_adapter_enabled:
      description: Whether the adapter's DNS settings are used for external lookups.
      type: bool
    external_dns_protocol:
      description: Protocol option for external lookups (C(Any), C(UseTcpOnly), C(UseUdpOnly)).
      type: str
    internal_dns_servers:
      description: Internal DNS servers.
      type: list
      elements: str
    internal_dns_adapter_enabled:
      description: Whether the adapter's DNS settings are used for internal lookups.
      type: bool
    internal_dns_protocol:
      description: Protocol option for internal lookups.
      type: str
  sample:
    server: EX01
    external_dns_servers: [192.0.2.53, 198.51.100.53]
    external_dns_adapter_enabled: false
    external_dns_protocol: Any
    internal_dns_servers: []
    internal_dns_adapter_enabled: true
    internal_dns_protocol: Any
"""
