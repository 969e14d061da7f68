#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/topology.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: topology
short_description: Validate a mail topology description and show its derived wiring
version_added: 0.1.0
description:
  - Checks a complete topology description (own domains; the submission, inbound relay and hub jobs,
    which inventory host serves each and on which address; outbound routing; TLS material; users)
    on the controller, before anything is deployed, and reports every problem at once. Each message
    starts with the field it is about, for example C(hub.servers[0].address).
  - Returns the servers, the wiring derived from the description (next hops of the relays, the hub's
    relay allow-list) and one audit target per server, without any secret.
  - The role variables each host receives come from O(return_jobs) (one task per play, its result hidden as with
    C(no_log)), the filter P(mailrelay.smtp.topology_jobs_by_host#filter) (once per play) or
    P(mailrelay.smtp.topology_jobs#filter). See C(docs/topology.md).
  - Runs on the controller only; it never contacts a host.
author: Mailrelay Maintainers (@mailrelay)
extends_documentation_fragment:
  - mailrelay.smtp._controller_only
options:
  description:
    description:
      - The topology description, normally the variable C(mailrelay_topology).
      - 'Keys: C(domains) (required list of own domains), C(submission), C(inbound_relay), C(hub) (each with
        C(servers), a list of C(host), C(address), C(port), C(hostname), C(platform), C(instance)),
        C(tls) (C(cert_file), C(key_file)), C(outbound) (C(method) dns or smarthost, C(smarthost), C(dns_servers)).'
      - Job keys C(submission.users) (C(login), C(password), C(senders)), C(submission.placeholder_domain),
        C(inbound_relay.recipients), C(hub.mailboxes), and C(max_message_size) and C(tls) on every job.
      - The full reference is C(docs/topology.md) in the collection.
    type: dict
    required: true
  inventory_hosts:
    description:
      - Inventory hostnames that every C(servers[].host) must belong to, normally C(groups['all']).
      - When omitted, host names are not checked against the inventory.
    type: list
    elements: str
  return_jobs:
    description:
      - Also return RV(jobs_by_host), the role variables of every host's jobs, so that one C(run_once) task both
        checks the description and derives the jobs (registered with C(run_once), the result reaches every host of
        the play).
      - They hold the submission users' and the smart host's passwords, so the whole result is then hidden like the
        result of a task with C(no_log); a refused description still shows its problems, since no jobs are returned.
    type: bool
    default: false
notes:
  - Validation rules include unknown jobs or keys, domain syntax, one unicast listen address per server
    (never all addresses) used by one job only, one server of each job per host, submission servers
    that need TLS material and users, sender addresses within the own domains, and a hub whose
    loopback address would be unreachable from a relay on another host.
  - Settings that a valid description holds but some server cannot apply are reported as warnings.
    C(outbound.dns_servers) is applied by every hub platform (a Postfix hub writes them into its
    instance's chroot, so only its smtp client asks them).
seealso:
  - module: mailrelay.smtp.relay_audit
"""

EXAMPLES = r"""
- name: Check the description before any host is touched
  mailrelay.smtp.topology:
    description: "{{ mailrelay_topology }}"
    inventory_hosts: "{{ groups['all'] }}"
  run_once: true

- name: Show where the relays send their mail
  mailrelay.smtp.topology:
    description: "{{ mailrelay_topology }}"
  register: plan
  run_once: true

- name: Check the description and work out the jobs of every host in one task
  mailrelay.smtp.topology:
    description: "{{ mailrelay_topology }}"
    inventory_hosts: "{{ groups['all'] }}"
    return_jobs: true
  run_once: true
  register: mailrelay_checked

- name: Print the wiring
  ansible.builtin.debug:
    var: plan.wiring
  run_once: true
"""

RETURN = r"""
domains:
  description: The own domains, lower-cased.
  returned: success
  type: list
  elements: str
  sample: [example.org, example.net]
servers:
  description: Every server of every job.
  returned: success
  type: list
  elements: dict
  sample:
    - {job: hub, host: mail1, address: 10.0.0.2, port: 25, hostname: hub.example.org, platform: postfix, instance: postfix-hub}
hosts:
  description: For each inventory host, the jobs it serves.
  returned: success
  type: dict
  sample: {mail1: [submission, inbound_relay, hub]}
wiring:
  description: For each host and job, the derived next hops, relay allow-list and outbound method.
  returned: success
  type: dict
  sample:
    mail1:
      inbound_relay:
        inbound_relay_next_hops: [{address: 10.0.0.2, port: 25}]
audit_targets:
  description:
    - One target per server for M(mailrelay.smtp.relay_audit), without its C(own_domains) (they are RV(domains)) and
      without any password; the filter P(mailrelay.smtp.topology_audit_targets#filter) gives complete targets.
  returned: success
  type: list
  elements: dict
jobs_by_host:
  description:
    - For every inventory host that serves at least one job, its jobs' role variables, as
      P(mailrelay.smtp.topology_jobs_by_host#filter) returns them. Secrets included; the result is hidden.
  returned: success and O(return_jobs=true)
  type: dict
  sample:
    mail1:
      hub:
        hub_platform: postfix
        hub_address: 10.0.0.2
windows_hosts:
  description: The hosts that serve at least one job on IIS or Exchange.
  returned: success and O(return_jobs=true)
  type: list
  elements: str
  sample: [exch1]
dkim_hosts:
  description: The hosts of Postfix hubs that sign outbound mail with DKIM (an OpenDKIM milter beside the instance).
  returned: success and O(return_jobs=true)
  type: list
  elements: str
  sample: [mail1]
hub_foreign_certificates:
  description:
    - The TLS client certificates that the hubs among the play's hosts (C(ansible_play_hosts)) trust and that live
      on another host, to be read where they live (as P(mailrelay.smtp.hub_foreign_certificates#filter) returns them).
  returned: success and O(return_jobs=true)
  type: list
  elements: dict
  sample: [{hub: mail1, host: edge1, cert_file: /etc/ssl/certs/edge1.pem}]
problems:
  description: Every problem found, each starting with the field it is about.
  returned: failure
  type: list
  elements: str
  sample: ["hub.servers[0].address: 127.0.0.1 is a loopback address of hub1, which inbound_relay.servers[0] on edge1 cannot reach"]
"""
