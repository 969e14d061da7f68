#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/exchange_receive_connector.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: exchange_receive_connector
short_description: Manage a dedicated Exchange receive connector and its relay permissions
version_added: 0.1.0
author: Mailrelay Maintainers (@mailrelay)
description:
  - Creates, changes or removes one dedicated receive connector on an Exchange server, identified exactly by
    C(SERVER\\Name) (never by a substring), with its bindings, remote IP ranges, permission groups,
    authentication mechanisms, TLS requirement, FQDN and maximum message size.
  - Manages the connector's extended-right permissions (C(ms-Exch-SMTP-Accept-Any-Recipient) and friends)
    by security identifier, so that C(NT AUTHORITY\\ANONYMOUS LOGON) is S-1-5-7 whatever the language of
    Active Directory (C(NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG) in German).
  - With O(exclusive=true) every explicit permission on the connector that is neither declared nor written
    by one of its permission groups is removed in the same call. Inherited permissions and Exchange's own
    server principals are never touched.
  - Refuses to modify Exchange's default connectors (C(Default SERVER), C(Client Frontend SERVER),
    C(Default Frontend SERVER), C(Outbound Proxy Frontend SERVER), C(Client Proxy SERVER)), and refuses
    anonymous relay for broad address ranges unless O(allow_broad_relay=true).
  - One read and at most one apply round trip to the host, whatever the number of ranges or permissions.
    A second run with the same options changes nothing and makes no apply call.
extends_documentation_fragment:
  - mailrelay.smtp._exchange_resource
  - mailrelay.smtp._exchange_resource.connector_state
  - mailrelay.smtp.exchange_session
options:
  server:
    description:
      - The Exchange server (Mailbox role) that hosts the connector, for example C(EX01).
      - The identity is built with the server's short name, as Exchange shows it.
    type: str
    required: true
  name:
    description:
      - Name of the connector. Must not be one of Exchange's default connectors, contain a backslash or a
        wildcard, or exceed 64 characters.
    type: str
    required: true
  transport_role:
    description:
      - Transport service that runs the connector. Relay connectors for other servers belong in the
        front end transport service.
      - Set when the connector is created; a different value on an existing connector is an error.
    type: str
    choices: [FrontendTransport, HubTransport]
    default: FrontendTransport
  bindings:
    description:
      - Local C(ADDRESS:PORT) pairs the connector listens on (IPv6 as C([ADDRESS]:PORT)).
      - When creating and not given, C(0.0.0.0:25). When not given on an existing connector, not managed.
    type: list
    elements: str
  remote_ip_ranges:
    description:
      - Clients this connector is for, compared as address ranges whatever the notation.
      - Each entry is one address (C(10.0.0.5)), a CIDR block (C(10.0.0.0/28)) or a range (C(10.0.0.5-10.0.0.9));
        IPv6 works the same way. A CIDR block with host bits set is refused.
      - Required with O(state=present).
    type: list
    elements: str
  permission_groups:
    description:
      - Exchange permission groups of the connector. Not managed when omitted.
      - Anonymous relay needs V(AnonymousUsers) (it grants C(ms-Exch-SMTP-Submit) to anonymous senders).
    type: list
    elements: str
    choices: [AnonymousUsers, ExchangeUsers, ExchangeServers, ExchangeLegacyServers, Partners]
  auth_mechanisms:
    description:
      - Authentication mechanisms offered. V(None) alone means none; V(BasicAuthRequireTLS) needs V(BasicAuth)
        and V(Tls). Not managed when omitted.
    type: list
    elements: str
    choices: [None, Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer, ExternalAuthoritative]
  require_tls:
    description:
      - Require STARTTLS for every message (needs V(Tls) in O(auth_mechanisms)). Not managed when omitted.
    type: bool
  fqdn:
    description:
      - Name announced in the SMTP banner and EHLO answer. Not managed when omitted.
    type: str
  max_message_size:
    description:
      - Largest accepted message, in bytes (C(36700160)) or with a unit (C(35MB), C(35 MB); B, KB, MB, GB).
        Not managed when omitted.
    type: raw
  enabled:
    description:
      - Whether the connector is enabled. Not managed when omitted.
    type: bool
  anonymous_relay:
    description:
      - Grant C(ms-Exch-SMTP-Accept-Any-Recipient) to ANONYMOUS LOGON (S-1-5-7); the clients in
        O(remote_ip_ranges) may then relay to any domain without authenticating.
      - With O(exclusive=true) and V(false), an existing relay permission is removed.
    type: bool
    default: false
  permissions:
    description:
      - Further extended-right permissions to grant or deny on the connector.
    type: list
    elements: dict
    suboptions:
      principal:
        description:
          - A SID (C(S-1-5-21-...)), an account name (C(CORP\\app-relay)), or one of the aliases
            V(anonymous) (S-1-5-7), V(authenticated_users) (S-1-5-11), V(everyone) (S-1-1-0).
          - Account names are translated to SIDs on the managed host in the same read call.
        type: str
        required: true
      rights:
        description:
          - Receive connector rights, for example C(ms-Exch-SMTP-Submit), C(ms-Exch-SMTP-Accept-Any-Recipient),
            C(ms-Exch-Bypass-Anti-Spam) (case-insensitive).
        type: list
        elements: str
        required: true
      deny:
        description:
          - Deny instead of allow.
        type: bool
        default: false
  exclusive:
    description:
      - Remove every explicit (non-inherited) receive-connector permission that is neither declared here nor
        written by one of the connector's permission groups.
      - Permissions of Exchange's own principals (the S-1-9 security authority used by permission groups such
        as ExchangeServers) and inherited permissions are never removed.
    type: bool
    default: true
  allow_broad_relay:
    description:
      - Allow anonymous relay for an entry of O(remote_ip_ranges) that covers more than 256 IPv4 addresses or more
        than a /64 of IPv6. Without it such a configuration is refused before anything is changed.
    type: bool
    default: false
notes:
  - The permissions a permission group writes are taken from Microsoft's documentation; when groups change,
    Exchange rewrites them and this module plans against that result. The post-apply check reports any
    setting the server did not keep.
seealso:
  - module: mailrelay.smtp.exchange_send_connector
  - module: mailrelay.smtp.exchange_info
"""

EXAMPLES = r"""
- name: Let the submission server relay through the hub (anonymous relay for one address only)
  mailrelay.smtp.exchange_receive_connector:
    server: EX01
    name: mailrelay relay
    bindings: ["10.0.0.2:25"]
    remote_ip_ranges: ["10.0.0.11"]
    permission_groups: [AnonymousUsers]
    auth_mechanisms: [Tls]
    anonymous_relay: true
    fqdn: hub.corp.example

- name: Accept the inbound relays' mail for own domains only (no relay right; stray ones are removed)
  mailrelay.smtp.exchange_receive_connector:
    server: EX01
    name: mailrelay inbound
    bindings: ["10.0.0.2:25"]
    remote_ip_ranges: ["10.0.0.12", "10.0.0.13"]
    permission_groups: [AnonymousUsers]
    anonymous_relay: false

- name: An application server that authenticates, through the remote endpoint with explicit credentials
  mailrelay.smtp.exchange_receive_connector:
    server: EX01
    name: app relay
    remote_ip_ranges: ["192.0.2.0/28"]
    permission_groups: [ExchangeUsers]
    auth_mechanisms: [Tls, BasicAuth, BasicAuthRequireTLS]
    permissions:
      - principal: CORP\app-relay
        rights: [ms-Exch-SMTP-Accept-Any-Recipient]
    session: remote
    connection_uri: http://ex01.corp.example/PowerShell/
    session_username: CORP\mailadmin
    session_password: "{{ vault_exchange_password }}"

- name: Remove the connector
  mailrelay.smtp.exchange_receive_connector:
    server: EX01
    name: old relay
    state: absent
"""

RETURN = r"""
identity:
  description: The connector's identity.
  returned: always
  type: str
  sample: EX01\mailrelay relay
connector:
  description: The connector after the task (empty when absent).
  returned: always
  type: dict
  contains:
    identity:
      description: C(SERVER\\Name).
      type: str
    transport_role:
      description: Transport service of the connector.
      type: str
    bindings:
      description: Local C(ADDRESS:PORT) bindings.
      type: list
      elements: str
    remote_ip_ranges:
      description: Remote ranges as Exchange stores them.
      type: list
      elements: str
    permission_groups:
      description: Permission groups (without Exchange's C(Custom) marker).
      type: list
      elements: str
    auth_mechanisms:
      description: Authentication mechanisms.
      type: list
      elements: str
    require_tls:
      description: Whether TLS is required.
      type: bool
    fqdn:
      description: Announced name.
      type: str
    max_message_size:
      description: Largest accepted message (for example C(36MB)).
      type: str
    enabled:
      description: Whether the connector is enabled.
      type: bool
    distinguished_name:
      description: Directory object of the connector; permissions are changed on this exact object.
      type: str
  sample:
    identity: EX01\mailrelay relay
    transport_role: FrontendTransport
    bindings: ["10.0.0.2:25"]
    remote_ip_ranges: ["10.0.0.11"]
    permission_groups: [AnonymousUsers]
    auth_mechanisms: [Tls]
    require_tls: false
    fqdn: hub.corp.example
    max_message_size: 36MB
    enabled: true
    distinguished_name: CN=mailrelay relay,CN=SMTP Receive Connectors,CN=Protocols,CN=EX01,CN=Servers,...
permissions:
  description: Every receive-connector permission on the connector, explicit and inherited, one entry per right.
  returned: always
  type: list
  elements: dict
  contains:
    sid:
      description: Security identifier of the principal (null if the host could not resolve it).
      type: str
    user:
      description: The principal's name as the directory spells it (localized).
      type: str
    right:
      description: The extended right.
      type: str
    deny:
      description: Whether this entry denies the right.
      type: bool
    inherited:
      description: Whether the entry is inherited (never changed by this module).
      type: bool
  sample:
    - sid: S-1-5-7
      user: NT AUTHORITY\ANONYMOUS LOGON
      right: ms-Exch-SMTP-Accept-Any-Recipient
      deny: false
      inherited: false
anonymous_relay:
  description: Whether anonymous senders may relay through this connector (an allow and no deny, explicit or inherited).
  returned: always
  type: bool
  sample: true
"""
