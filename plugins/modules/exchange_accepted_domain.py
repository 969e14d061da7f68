#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/exchange_accepted_domain.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: exchange_accepted_domain
short_description: Manage Exchange accepted domains and the default domain
version_added: 0.1.0
author: Mailrelay Maintainers (@mailrelay)
description:
  - Adds, changes or removes the organisation's accepted domains (authoritative, internal relay or external relay)
    and chooses the default domain.
  - Each domain is identified by its exact domain name. Domains not listed are left alone.
  - All listed domains cost one read and at most one apply round trip together.
extends_documentation_fragment:
  - mailrelay.smtp._exchange_resource
  - mailrelay.smtp.exchange_session
attributes:
  diff_mode:
    description: The diff lists the accepted domains with their type, one per line.
options:
  domains:
    description:
      - Accepted domains to manage.
    type: list
    elements: dict
    default: []
    suboptions:
      domain:
        description:
          - The domain name, or C(*.domain) for a relay domain with all its subdomains.
        type: str
        required: true
      name:
        description:
          - Display name of a new accepted domain. Defaults to the domain name. Not changed on existing domains.
        type: str
      type:
        description:
          - V(authoritative) (mailboxes here), V(internal_relay) or V(external_relay).
        type: str
        choices: [authoritative, internal_relay, external_relay]
        default: authoritative
      match_subdomains:
        description:
          - Also accept mail for subdomains. Not managed when omitted.
        type: bool
      state:
        description:
          - V(absent) removes the accepted domain (the default domain cannot be removed).
        type: str
        choices: [present, absent]
        default: present
  default_domain:
    description:
      - Domain to make the default accepted domain. It must be listed in O(domains) or exist already.
    type: str
seealso:
  - module: mailrelay.smtp.exchange_info
"""

EXAMPLES = r"""
- name: Own domains of the hub
  mailrelay.smtp.exchange_accepted_domain:
    domains:
      - domain: corp.example
      - domain: corp-mail.example
    default_domain: corp.example

- name: Relay a partner subdomain to another system, drop an old domain
  mailrelay.smtp.exchange_accepted_domain:
    domains:
      - domain: lab.corp.example
        type: internal_relay
      - domain: old.example
        state: absent
"""

RETURN = r"""
accepted_domains:
  description: Every accepted domain of the organisation after the task.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Display name.
      type: str
    domain:
      description: Domain name.
      type: str
    type:
      description: C(Authoritative), C(InternalRelay) or C(ExternalRelay).
      type: str
    default:
      description: Whether this is the default domain.
      type: bool
    match_subdomains:
      description: Whether subdomains are accepted too.
      type: bool
  sample:
    - name: corp.example
      domain: corp.example
      type: Authoritative
      default: true
      match_subdomains: false
"""
