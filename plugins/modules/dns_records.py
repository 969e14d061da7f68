#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/dns_records.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: dns_records
short_description: Derive the DNS records a mail topology needs
version_added: 0.1.0
description:
  - From a topology description, derives every DNS record the own domains need so that the Internet
    delivers to them and accepts their mail - MX records pointing at the inbound relays, A/AAAA records
    for the names the servers greet with, PTR records for the hubs that send by DNS, SPF, DKIM (one record
    per selector, algorithm and hub), DMARC, MTA-STS (the C(_mta-sts) record and the policy text) and TLS-RPT.
  - Returns them as structured data and as a zone-file snippet with absolute owner names.
    The playbook C(mailrelay.smtp.dns_records) writes both to files for the DNS team.
  - The C(dns) and C(dkim) parts of the description choose DMARC and MTA-STS policies, report addresses,
    public addresses and SPF includes; see C(docs/dns.md).
  - Runs on the controller only; it never contacts a host or a DNS server.
author: Mailrelay Maintainers (@mailrelay)
extends_documentation_fragment:
  - mailrelay.smtp._controller_only
options:
  description:
    description:
      - The topology description, normally the variable C(mailrelay_topology) (C(docs/topology.md)).
    type: dict
    required: true
  dkim_public_keys:
    description:
      - The public DKIM keys read from the hubs by M(mailrelay.smtp.dkim_keys).
      - A key the topology needs but that is missing here gives a note instead of a record.
    type: list
    elements: dict
    default: []
    suboptions:
      key_selector:
        description: The DNS selector of the key, for example C(mailrelay1-hub).
        type: str
        required: true
      algorithm:
        description: The key's algorithm.
        type: str
        required: true
        choices: [rsa, ed25519]
      public_key:
        description: The base64 C(p=) value of the DKIM record.
        type: str
        required: true
      active:
        description: Whether the key signs now (informational; the description's C(dkim.active) decides).
        type: bool
        default: false
  published_addresses:
    description:
      - Greeting name -> list of the addresses a publishing gateway gives that server on the Internet.
        They replace the server's listen address in A/AAAA, PTR and SPF records.
      - The description's own C(publishing) part gives each published server its outside address without this
        option; a name given here wins over it, and C(dns.addresses) in the description wins over both.
    type: dict
    default: {}
notes:
  - The topology is validated first; a problem fails the task with every problem named by its field.
  - SPF names the hubs' addresses when they send by DNS, and the smart host (by address, by C(a:NAME), or by
    C(dns.spf.include)) when they send through one. A record that would need more than 10 DNS lookups is refused.
  - TXT data longer than 255 characters is split into several strings, as RFC 7208 and RFC 6376 expect.
seealso:
  - module: mailrelay.smtp.topology
  - module: mailrelay.smtp.dns_check
"""

EXAMPLES = r"""
- name: Derive the records of the topology
  mailrelay.smtp.dns_records:
    description: "{{ mailrelay_topology }}"
  register: dns
  run_once: true

- name: Write the zone snippet for the DNS team
  ansible.builtin.copy:
    content: "{{ dns.zone }}"
    dest: ./mail-records.zone
    mode: "0644"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
records:
  description: Every derived record.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Owner name, without the trailing dot.
      type: str
    type:
      description: C(A), C(AAAA), C(MX), C(TXT) or C(PTR).
      type: str
    ttl:
      description: Time to live in seconds (C(dns.ttl), default 3600).
      type: int
    value:
      description: The record data; for TXT the whole text as receivers read it (the strings joined).
      type: str
    strings:
      description: TXT only, the character-strings of at most 255 characters.
      type: list
      elements: str
    purpose:
      description: What the record is for.
      type: str
    domain:
      description: The own domain the record belongs to (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT).
      type: str
  sample:
    - {name: example.org, type: MX, ttl: 3600, value: 10 mx.example.org., purpose: inbound relay for example.org, domain: example.org}
zone:
  description: The records as a zone-file snippet with absolute owner names and a comment per record.
  returned: success
  type: str
notes:
  description: What could not be derived or needs attention (a private address, a DKIM key not yet generated).
  returned: success
  type: list
  elements: str
mta_sts_policies:
  description: Own domain -> the policy text to serve at C(https://mta-sts.DOMAIN/.well-known/mta-sts.txt).
  returned: success
  type: dict
dkim_keys:
  description: The keys the Postfix hubs need, one per hub, selector and algorithm.
  returned: success
  type: list
  elements: dict
  sample:
    - {host: core1, hostname: hub.example.org, selector: mailrelay1, algorithm: rsa, key_selector: mailrelay1-hub, active: true}
problems:
  description: Every problem found in the description, each starting with the field it is about.
  returned: failure
  type: list
  elements: str
"""
