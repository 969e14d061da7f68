#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/dns_check.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: dns_check
short_description: Check that DNS publishes the records a mail topology needs
version_added: 0.1.0
description:
  - Asks DNS, from the controller, for every record that M(mailrelay.smtp.dns_records) derived and reports record
    set by record set whether it is there and as needed - V(ok), V(missing), V(different) (with what was found)
    or V(unanswered) (the resolver gave no verdict).
  - Fails when any record set is not V(ok), so a CI job can gate on it; the message holds a table of the record
    sets that are not right.
  - TXT records are compared only with TXT records of the same kind at the same name (SPF with SPF, DMARC with
    DMARC...), so unrelated TXT records such as site verifications do not count. SPF compares term by term and
    the tag lists of DKIM, DMARC, MTA-STS and TLS-RPT tag by tag, so spacing, order and string splits do not count.
author: Mailrelay Maintainers (@mailrelay)
requirements:
  - dnspython 2.3 or later on the controller
extends_documentation_fragment:
  - mailrelay.smtp._controller_only
options:
  records:
    description: The records to check, as RV(mailrelay.smtp.dns_records#module:records) returns them (C(name), C(type), C(value)).
    type: list
    elements: dict
    required: true
  nameservers:
    description:
      - Addresses of the DNS servers to ask (a recursive resolver, or the domains' authoritative servers).
      - Empty (the default) asks the controller's resolvers (C(/etc/resolv.conf)).
    type: list
    elements: str
    default: []
  port:
    description: The port the DNS servers answer on.
    type: int
    default: 53
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 5.0
  types:
    description: Only check records of these types, for example without V(PTR) when the address owner sets those.
    type: list
    elements: str
    choices: [A, AAAA, MX, TXT, PTR]
    default: [A, AAAA, MX, TXT, PTR]
seealso:
  - module: mailrelay.smtp.dns_records
"""

EXAMPLES = r"""
- name: Derive the records
  mailrelay.smtp.dns_records:
    description: "{{ mailrelay_topology }}"
  register: dns

- name: Check them against the authoritative servers
  mailrelay.smtp.dns_check:
    records: "{{ dns.records }}"
    nameservers: [192.0.2.53]
    types: [A, AAAA, MX, TXT]
"""

RETURN = r"""
passed:
  description: Whether every record set is V(ok). False also fails the task.
  returned: success and failure
  type: bool
rows:
  description: One row per record set.
  returned: success and failure
  type: list
  elements: dict
  contains:
    name:
      description: Owner name.
      type: str
    type:
      description: Record type.
      type: str
    status:
      description: V(ok), V(missing), V(different) or V(unanswered).
      type: str
    expected:
      description: The values the topology needs.
      type: list
      elements: str
    found:
      description: The values DNS answered (for TXT, those of the same kind only).
      type: list
      elements: str
  sample:
    - {name: _dmarc.example.org, type: TXT, status: different, expected: ["v=DMARC1; p=none; rua=mailto:postmaster@example.org"],
       found: ["v=DMARC1; p=reject"]}
counts:
  description: How many record sets have each status.
  returned: success and failure
  type: dict
  sample: {ok: 17, missing: 0, different: 1, unanswered: 0}
table:
  description: Every row as lines of a text table.
  returned: success and failure
  type: list
  elements: str
"""
