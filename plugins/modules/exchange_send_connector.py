#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/exchange_send_connector.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: exchange_send_connector
short_description: Manage an Exchange send connector (DNS routing or smart hosts)
version_added: 0.1.0
author: Mailrelay Maintainers (@mailrelay)
description:
  - Creates, changes or removes an Exchange send connector, identified by its exact name, with its address spaces,
    DNS (MX) routing optionally through the transport service's external DNS servers, or smart hosts with
    port, TLS, authentication and credentials, source transport servers and maximum message size.
  - The smart host password is write-only; it is sent when the connector is created, when the user name or
    the authentication mechanism changes, or on every run with O(update_password=always). It never appears in
    the task result, the diff or the script text.
  - One read and at most one apply round trip to the host, whatever the number of address spaces or smart hosts.
attributes:
  idempotent:
    support: partial
    description: A second run changes nothing, except with O(update_password=always), which sends the password every run.
extends_documentation_fragment:
  - mailrelay.smtp._exchange_resource
  - mailrelay.smtp._exchange_resource.connector_state
  - mailrelay.smtp.exchange_session
options:
  name:
    description:
      - Name of the send connector (send connectors belong to the organisation, not to one server).
    type: str
    required: true
  usage:
    description:
      - Usage type, only used when the connector is created.
    type: str
    choices: [custom, internal, internet, partner]
    default: internet
  address_spaces:
    description:
      - Domains this connector sends to. C(*) is all Internet mail; C(example.com), C(*.example.com),
        C(SMTP:example.com;5) (with a cost) are also accepted and compared in Exchange's C(SMTP:domain;cost) form.
    type: list
    elements: str
    default: ['*']
  routing:
    description:
      - V(dns) looks up MX records; V(smarthost) hands all mail to O(smart_hosts).
      - Defaults to V(smarthost) when O(smart_hosts) is given, V(dns) otherwise.
    type: str
    choices: [dns, smarthost]
  smart_hosts:
    description:
      - Smart hosts (IP addresses or host names, without the port) for O(routing=smarthost).
    type: list
    elements: str
  port:
    description:
      - TCP port used for every smart host or MX host. Not managed when omitted (Exchange uses 25).
    type: int
  tls:
    description:
      - V(none) ignores STARTTLS (C(IgnoreSTARTTLS)), V(opportunistic) uses it when offered, V(required) requires it
        (C(RequireTLS)).
    type: str
    choices: [none, opportunistic, required]
    default: opportunistic
  tls_auth_level:
    description:
      - Certificate checks with O(tls=required). Not managed when omitted.
    type: str
    choices: [encryption_only, certificate_validation, domain_validation]
  tls_domain:
    description:
      - Domain the smart host's certificate must match, with O(tls_auth_level=domain_validation).
    type: str
  smarthost_authentication:
    description:
      - How Exchange authenticates to the smart host. V(basic) sends the password and needs O(tls=required);
        V(basic_require_tls) sends it only after STARTTLS.
    type: str
    choices: [none, basic, basic_require_tls, exchange_server, external_authoritative]
    default: none
  username:
    description:
      - Smart host account for V(basic) and V(basic_require_tls) authentication.
    type: str
  password:
    description:
      - Password of O(username). Sent as a SecureString parameter; never returned. When it is sent, the diff
        shows the password as C((set)).
    type: str
  update_password:
    description:
      - V(on_create) sends the password only when the connector is created or the user name or the authentication
        mechanism changes; V(always) sends it on every run (the task then always reports a change).
    type: str
    choices: [always, on_create]
    default: on_create
  use_external_dns:
    description:
      - Resolve through the transport service's external DNS servers (see M(mailrelay.smtp.exchange_transport_dns)).
        Not managed when omitted.
    type: bool
  source_transport_servers:
    description:
      - Mailbox servers that send through this connector, compared by short name. Not managed when omitted
        (Exchange uses the server where the connector is created).
    type: list
    elements: str
  max_message_size:
    description:
      - Largest message sent, in bytes or with a unit (C(35MB)), or C(unlimited). Not managed when omitted.
    type: raw
  fqdn:
    description:
      - Name used in HELO/EHLO. Not managed when omitted.
    type: str
  enabled:
    description:
      - Whether the connector is enabled. Not managed when omitted.
    type: bool
notes:
  - Several send connectors with the same address space and cost share the traffic; give this connector the only
    C(*) address space, or a lower cost, if all Internet mail must take it.
seealso:
  - module: mailrelay.smtp.exchange_transport_dns
  - module: mailrelay.smtp.exchange_info
"""

EXAMPLES = r"""
- name: Send Internet mail by DNS through the transport service's external DNS servers
  mailrelay.smtp.exchange_send_connector:
    name: mailrelay outbound
    address_spaces: ["*"]
    routing: dns
    use_external_dns: true
    source_transport_servers: [EX01]

- name: Send Internet mail through the provider's smart host with authentication
  mailrelay.smtp.exchange_send_connector:
    name: mailrelay outbound
    address_spaces: ["*"]
    routing: smarthost
    smart_hosts: [smtp.provider.example]
    port: 587
    tls: required
    smarthost_authentication: basic_require_tls
    username: corp-relay
    password: "{{ vault_smarthost_password }}"
    source_transport_servers: [EX01]
"""

RETURN = r"""
connector:
  description: The send connector after the task (empty when absent). The password is never returned.
  returned: always
  type: dict
  contains:
    name:
      description: Name.
      type: str
    address_spaces:
      description: Address spaces as C(SMTP:domain;cost).
      type: list
      elements: str
    routing:
      description: V(dns) or V(smarthost).
      type: str
    smart_hosts:
      description: Smart hosts.
      type: list
      elements: str
    port:
      description: Port.
      type: int
    require_tls:
      description: Whether TLS is required.
      type: bool
    ignore_starttls:
      description: Whether STARTTLS is ignored.
      type: bool
    tls_auth_level:
      description: Certificate checks.
      type: str
    tls_domain:
      description: Domain the certificate must match.
      type: str
    smarthost_authentication:
      description: Exchange's SmartHostAuthMechanism.
      type: str
    username:
      description: Smart host account.
      type: str
    use_external_dns:
      description: Whether the external DNS servers are used.
      type: bool
    source_transport_servers:
      description: Source transport servers.
      type: list
      elements: str
    max_message_size:
      description: Largest message (for example C(35MB) or C(unlimited)).
      type: str
    fqdn:
      description: HELO/EHLO name.
      type: str
    enabled:
      description: Whether the connector is enabled.
      type: bool
  sample:
    name: mailrelay outbound
    address_spaces: ["SMTP:*;1"]
    routing: smarthost
    smart_hosts: [smtp.provider.example]
    port: 587
    require_tls: true
    ignore_starttls: false
    tls_auth_level: null
    tls_domain: null
    smarthost_authentication: BasicAuthRequireTLS
    username: corp-relay
    use_external_dns: false
    source_transport_servers: [EX01]
    max_message_size: 35MB
    fqdn: null
    enabled: true
"""
