#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/iis_smtp_server.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: iis_smtp_server
short_description: Manage an IIS SMTP virtual server (Windows "SMTP Server" feature)
version_added: 0.1.0
description:
  - Creates, changes, starts, stops and removes one SMTP virtual server of the Windows "SMTP Server" feature
    (the IIS 6 metabase, C(/LM/SMTPSVC/n)), found by its display name (C(ServerComment)).
  - Manages the settings a submission server or an inbound relay needs, as in the IIS 6 Manager dialogs
    Access (authentication, TLS, connection control, relay restrictions), Delivery (smart host, outbound
    security and port, masquerade domain, FQDN) and Messages (maximum size).
  - Options left out are not managed, so a task can change one setting of an existing server.
  - All logic runs on the controller. The Windows host runs one fixed script shipped with the collection
    (C(plugins/payloads/iis_smtp.ps1)) once to read and, only when something must change, once more to
    apply, through M(ansible.windows.win_powershell) over the host's own connection, so WinRM, PSRP and
    SSH all work. A task costs one read and at most one apply, however long the relay list is.
  - Refuses settings that make an Internet-facing server an open relay (anonymous access together with a
    relay list that grants every address or a network wider than /24) unless I(allow_open_relay=true).
  - Needs the Windows features C(SMTP-Server) and C(Web-WMI) (IIS 6 WMI Compatibility); the role
    C(mailrelay.smtp.iis_smtp) installs them.
author: Mailrelay Maintainers (@mailrelay)
attributes:
  check_mode:
    support: full
    description: The read runs in check mode; the apply does not, and the result says what would change.
  diff_mode:
    support: full
    description: Before and after, with addresses, authentication methods and flags by name; passwords are never shown.
  idempotent:
    support: partial
    description: A second run changes nothing, except with O(update_password=always), which writes the password every run.
extends_documentation_fragment:
  - mailrelay.smtp.iis_smtp
options:
  name:
    description:
      - Display name of the virtual server (C(ServerComment)), unique on the host.
    type: str
    required: true
  state:
    description:
      - C(present) makes sure the server exists and leaves it running or stopped as it is.
      - C(started) also starts it and sets it to start automatically; C(stopped) stops it and disables automatic start.
      - C(absent) stops and deletes it. The default virtual server (index 1, C(SmtpSvc/1)) is never deleted, because
        tools and scripts expect it; the module refuses and asks for C(stopped).
      - Start and stop write C(ServerCommand) (1 start, 2 stop) and fall back to the ADSI C(Start)/C(Stop) methods if
        C(ServerState) does not follow; both are documented for web and FTP sites only (unconfirmed for SMTP).
    type: str
    choices: [present, absent, started, stopped]
    default: present
  bindings:
    description:
      - Addresses and ports the server listens on (C(ServerBindings)). Required to create a server.
      - A new server also gets what IIS 6 Manager creates under it, the C(Domain) container and the C(ROOT)
        virtual directory (C(IIsSmtpVirtualDir), its path O(mail_root) or C(C:\Inetpub\mailroot)).
      - The same address and port on two virtual servers keep the second from starting; the module
        refuses that for I(state=started) and warns otherwise.
    type: list
    elements: dict
    suboptions:
      address:
        description:
          - One IPv4 address of the host. An empty address, C(*) or C(0.0.0.0) means all unassigned addresses
            and is refused unless I(allow_all_unassigned=true).
        type: str
        required: true
      port:
        description: TCP port.
        type: int
        default: 25
  allow_all_unassigned:
    description:
      - Allow a binding to all unassigned addresses. The topology this collection builds never needs it.
    type: bool
    default: false
  default_domain:
    description:
      - The server's default (local) domain (C(DefaultDomain), with C(UpdatedDefaultDomain) so the service keeps it).
      - A placeholder such as C(submission.invalid) keeps a relay from being the final destination of a real domain.
    type: str
  fqdn:
    description:
      - Fully qualified domain name announced in the greeting (C(FullyQualifiedDomainName), with C(UpdatedFQDN)).
    type: str
  authentication:
    description:
      - Accepted inbound authentication methods (C(AuthFlags)). C(integrated) is the GUI's "Windows Security Package".
      - An empty list allows no method at all. Other bits (for example MD5) are kept as they are.
    type: list
    elements: str
    choices: [anonymous, basic, integrated]
  require_tls:
    description:
      - Require TLS for every inbound session (C(AccessSSLFlags) bit AccessSSL). A certificate must be bound; see
        I(tls_certificate_thumbprint).
    type: bool
  relay_for_authenticated:
    description:
      - Let every client that authenticated relay, whatever I(relay_ip_list) says (C(RelayForAuth)).
    type: bool
  relay_ip_list:
    description:
      - The relay restrictions (C(RelayIpList), written through WMI as the IPSECLIST blob).
      - I(grant_by_default=false) is "Only the list below"; C(true) is "All except the list below".
    type: dict
    suboptions:
      grant_by_default:
        description: Relay for everyone except I(entries) (C(true)) or only for I(entries) (C(false)).
        type: bool
        default: false
      entries:
        description: IPv4 addresses (C(192.0.2.10)) and networks (C(192.0.2.0/24) or C(192.0.2.0/255.255.255.0)).
        type: list
        elements: str
        default: []
  connection_ip_list:
    description:
      - Connection control (C(IPSecurity), the IIsIPSecurity object), which computers may connect at all.
    type: dict
    suboptions:
      grant_by_default:
        description: Everyone but I(entries) may connect (C(true)), or only I(entries) (C(false)).
        type: bool
        default: false
      entries:
        description: IPv4 addresses and networks, as for I(relay_ip_list).
        type: list
        elements: str
        default: []
  smart_host:
    description:
      - Where all outbound mail goes (C(SmartHost)). An IPv4 address is written in brackets (C([10.0.0.2]))
        so no MX lookup happens; a host name is kept as given. An empty string removes the smart host.
      - IIS takes one smart host; the outbound port is I(outbound_port).
    type: str
  smart_host_type:
    description:
      - C(always) sends everything to the smart host; C(dns_first) tries direct delivery first; C(none) uses DNS only
        (C(SmartHostType) 2, 1, 0). Defaults to C(always) when I(smart_host) is set and to C(none) when it is empty.
    type: str
    choices: [none, dns_first, always]
  outbound_port:
    description: TCP port of outbound connections (C(RemoteSmtpPort)).
    type: int
  outbound_tls:
    description: Use TLS for outbound connections (C(RouteAction) bit SSL).
    type: bool
  outbound_authentication:
    description:
      - How the server authenticates to the smart host (C(RouteAction) bits).
    type: str
    choices: [anonymous, basic, integrated]
  outbound_username:
    description: Account for outbound authentication (C(RouteUserName)).
    type: str
  outbound_password:
    description:
      - Password for outbound authentication (C(RoutePassword)). It is passed to the host as a SecureString, is never
        read back and never appears in results, diffs or logs.
    type: str
  update_password:
    description:
      - C(on_change) writes the password when the server is created, when the account or the method changes, or when no
        password is set; C(always) writes it on every run (and so reports a change every time).
    type: str
    choices: [always, on_change]
    default: on_change
  allow_cleartext_password:
    description:
      - Allow basic outbound authentication without I(outbound_tls), which sends the password in clear text.
    type: bool
    default: false
  max_message_size:
    description: Largest message accepted, in bytes (C(MaxMessageSize)).
    type: int
  masquerade_domain:
    description: Domain written into outbound sender addresses (C(MasqueradeDomain)); an empty string removes it.
    type: str
  mail_root:
    description:
      - Folder holding this server's own C(Queue), C(Pickup), C(Drop) and C(Badmail) subfolders (the four
        directory properties). Two virtual servers should not share one. The folders must exist.
    type: str
  tls_certificate_thumbprint:
    description:
      - SHA-1 thumbprint of the certificate in C(LocalMachine\My) used for STARTTLS (C(SSLCertHash)).
      - Unconfirmed. Microsoft lists C(SSLCertHash) for SMTP only on the read-only WMI class, so IIS may ignore the
        value written through ADSI; the result's RV(unconfirmed) says so, and the certificate should be checked with
        an C(EHLO)/C(STARTTLS) test.
      - Import the certificate first, for example with M(ansible.windows.win_certificate_store).
    type: str
  internet_facing:
    description:
      - The server can be reached from the Internet, so the open-relay rules apply. Set C(false) only for a server
        that only internal hosts can reach.
    type: bool
    default: true
  allow_open_relay:
    description:
      - Accept settings that make the server an open relay on an Internet-facing host. Never needed by the topology
        this collection builds.
    type: bool
    default: false
notes:
  - Which of these behaviours have been confirmed on a live Windows host, and which come from documentation and
    public samples only, is listed in C(docs/windows.md) of the collection. Facts with their confidence live in
    C(plugins/module_utils/_metabase.py) (C(FACTS)).
  - After the apply call the module compares the state the host returned with what it asked for and fails, naming
    the properties, if the host did not keep a setting. Passwords cannot be read back and are not compared.
  - Windows Server 2019 queues can stick when SMTPSVC starts Automatic; the role C(mailrelay.smtp.iis_smtp) sets
    Automatic (Delayed Start).
seealso:
  - module: mailrelay.smtp.iis_smtp_domain
  - module: mailrelay.smtp.iis_smtp_info
  - module: ansible.windows.win_powershell
"""

EXAMPLES = r"""
- name: Submission server for roaming users (authenticated relay only, hub as smart host)
  mailrelay.smtp.iis_smtp_server:
    name: mailrelay submission
    state: started
    bindings:
      - address: 192.0.2.10
        port: 587
    default_domain: submission.invalid
    fqdn: smtp.example.org
    authentication: [basic, integrated]
    require_tls: true
    tls_certificate_thumbprint: "{{ smtp_certificate_thumbprint }}"
    relay_for_authenticated: true
    relay_ip_list:
      grant_by_default: false
      entries: []
    smart_host: 10.0.0.2
    outbound_port: 25
    max_message_size: 10485760
    mail_root: C:\inetpub\mailroot-submission

- name: Inbound relay accepting anonymous mail (own domains are added with iis_smtp_domain)
  mailrelay.smtp.iis_smtp_server:
    name: mailrelay inbound relay
    state: started
    bindings:
      - address: 192.0.2.11
    default_domain: inbound-relay.invalid
    fqdn: mx.example.org
    authentication: [anonymous]
    relay_for_authenticated: false
    relay_ip_list:
      entries: []

- name: Stop the default virtual server, which listens on every address
  mailrelay.smtp.iis_smtp_server:
    name: "[SMTP Virtual Server #1]"
    state: stopped

- name: Relay to an upstream smart host with a password
  mailrelay.smtp.iis_smtp_server:
    name: mailrelay submission
    smart_host: smtp.provider.example
    outbound_port: 587
    outbound_tls: true
    outbound_authentication: basic
    outbound_username: relay@example.org
    outbound_password: "{{ vault_smarthost_password }}"
"""

RETURN = r"""
server:
  description:
    - The virtual server as it is after the task (in check mode, as it was), decoded; C(null) when it does not exist.
    - Its keys match this module's options, so it can be fed back to describe an existing server.
  returned: always
  type: dict
  contains:
    index:
      description: Metabase index (C(/LM/SMTPSVC/<index>)).
      type: int
      sample: 2
    name:
      description: Display name.
      type: str
      sample: mailrelay submission
    state:
      description: C(started), C(stopped), C(starting), C(stopping), C(paused)...
      type: str
      sample: started
    bindings:
      description: C(address:port); C(*) stands for all unassigned addresses.
      type: list
      elements: str
      sample: ["192.0.2.10:587"]
    authentication:
      description: Accepted inbound methods.
      type: list
      elements: str
      sample: [basic, integrated]
    relay_ip_list:
      description: C(grant_by_default) and C(entries); a string when the server does not set the list, or C(error) when the blob cannot be decoded.
      type: raw
      sample: {grant_by_default: false, entries: []}
    connection_ip_list:
      description: As I(relay_ip_list), for connection control.
      type: raw
    smart_host:
      description: Smart host as stored.
      type: str
      sample: "[10.0.0.2]"
    outbound_password_set:
      description: Whether an outbound password is stored (the password itself is never read).
      type: bool
    open_relay_risks:
      description: Why the server may relay for anonymous clients; empty when it does not.
      type: list
      elements: str
      sample: []
    route_action_flags:
      description: Outbound C(RouteAction) bits by name.
      type: list
      elements: str
      sample: [ssl, sasl, auth_cleartext]
unconfirmed:
  description:
    - Inferred facts about IIS that the task relied on and that no live host has confirmed yet (docs/windows.md lists
      them); check the result on your host.
  returned: when the task relies on one
  type: list
  elements: str
  sample: ["tls_certificate_thumbprint is written as SSLCertHash through ADSI; ..."]
operations:
  description: The operations the apply call ran (or, in check mode, would run), without values.
  returned: always
  type: list
  elements: str
  sample: ["create_server", "set_property AuthFlags", "start_server"]
"""
