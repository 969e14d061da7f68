#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin plugins/action/postfix_jobs.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_jobs
short_description: Check, plan or converge the Postfix instances of one host's topology jobs in one call
version_added: 0.1.0
description:
  - Builds, on the controller, every Postfix instance that serves the host's jobs of a topology description
    (hub first), with the same checks and builders as the job roles P(mailrelay.smtp.hub#role),
    P(mailrelay.smtp.inbound_relay#role) and P(mailrelay.smtp.submission#role) and the filter
    P(mailrelay.smtp.host_postfix_instances#filter); the submission server's Dovecot users travel with its instance.
  - Then runs M(mailrelay.smtp.postfix_instances) once on the host with those instances, the packages to check
    and the record of retiring instances. In check mode that call validates and plans everything and changes
    nothing; C(playbooks/site.yml) runs it this way as every host's preflight, before any host changes.
  - In check mode, a Postfix hub that signs with DKIM has its OpenDKIM signers planned in the same call
    (O(mailrelay.smtp.postfix_instances#module:opendkim), with the options the hub role gives M(mailrelay.smtp.opendkim)),
    so that its preflight is one module call too; outside check mode the hub role applies them.
  - Jobs on IIS or Exchange are not Postfix's and are left out. A host with no Postfix job and no O(record_path)
    is skipped without contacting it.
  - Role variables that the description does not set are read from the host's variables, as the job roles read
    them - C(hub_relay_networks), C(submission_sasl_path), C(submission_sender_login_maps),
    C(submission_dovecot_manage) and C(submission_hash_iterations) - with the roles' defaults otherwise.
  - Builds in Python what a play would otherwise work out with filters in Jinja, so that a no-op re-run costs
    one module execution per host and little on the controller (C(benchmarks/topology_rerun.py)).
author: Mailrelay Maintainers (@mailrelay)
attributes:
  check_mode:
    support: full
    description: The call of M(mailrelay.smtp.postfix_instances) runs in check mode and reports what would change.
  diff_mode:
    support: full
    description: The diff of every instance, as M(mailrelay.smtp.postfix_instances) shows it.
  platform:
    support: full
    platforms: posix
    description: Builds the instances on the controller; the instances converge on the managed host (Debian and Ubuntu are tested).
options:
  jobs:
    description:
      - The host's jobs as M(mailrelay.smtp.topology) derives them with O(mailrelay.smtp.topology#module:return_jobs=true)
        (its C(jobs_by_host) entry for the host, or C({}) for a host that serves no job), or as the filter
        P(mailrelay.smtp.topology_jobs_by_host#filter) does. They hold passwords; the module masks them.
    type: dict
    required: true
  host:
    description:
      - The inventory host the jobs are for. A hub's certificate files on this host and its trusted certificates
        in O(certificate_reads) are picked by this name.
      - Defaults to C(inventory_hostname).
    type: str
  certificate_reads:
    description:
      - The results of reading, where they live, the TLS client certificates that hubs trust on other hosts (the
        C(results) of a registered loop of M(ansible.builtin.slurp) over RV(mailrelay.smtp.topology#module:hub_foreign_certificates)).
        Each result's C(item.hub) names the hub; those of this host's hub are trusted by their SHA-256 fingerprint.
      - A result of this host's hub that failed, or whose C(content) is not base64 PEM text, is refused.
    type: list
    elements: dict
    default: []
  packages:
    description:
      - Packages that must be installed on a host with Postfix instances (O(mailrelay.smtp.postfix_instances#module:packages));
        missing ones are reported in RV(missing_packages) and nothing else is done. Not checked on a host without instances.
    type: list
    elements: str
    default: []
  dovecot_packages:
    description: Packages checked as well when an instance carries Dovecot users (a Postfix submission server whose Dovecot is managed).
    type: list
    elements: str
    default: []
  record_path:
    description:
      - The record of the instances deployed for this inventory host (O(mailrelay.smtp.postfix_instances#module:record_path));
        those it names that are no longer planned retire. Empty for none.
    type: str
    default: ""
  retire_queued:
    description: What to do with mail still queued in an instance that retires (O(mailrelay.smtp.postfix_instances#module:retire_queued)).
    type: str
    choices: [refuse, flush, drop]
    default: refuse
  reload_changed:
    description: Reload (or restart) changed running instances in the call (O(mailrelay.smtp.postfix_instances#module:reload_changed)).
    type: bool
    default: false
notes:
  - The job settings are refused before the host is contacted, with every problem named, as the job roles refuse them.
seealso:
  - module: mailrelay.smtp.topology
  - module: mailrelay.smtp.postfix_instances
  - plugin: mailrelay.smtp.host_postfix_instances
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the description and work out the jobs of every host once
  mailrelay.smtp.topology:
    description: "{{ mailrelay_topology }}"
    inventory_hosts: "{{ groups['all'] }}"
    return_jobs: true
  run_once: true
  register: checked

- name: Plan the Postfix instances of this host without changing anything
  mailrelay.smtp.postfix_jobs:
    jobs: "{{ checked.jobs_by_host[inventory_hostname] | default({}) }}"
    packages: [postfix, postfix-pcre, postfix-lmdb, libsasl2-modules]
    dovecot_packages: [dovecot-core]
  check_mode: true
  register: plan

- name: Show whether this host would change
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ 'changes' if plan.plan_changed | default(false) else 'up to date' }}"
"""

RETURN = r"""
instances:
  description: One result per instance, as M(mailrelay.smtp.postfix_instances) returns them.
  returned: when the host has a Postfix job or O(record_path)
  type: list
  elements: dict
dovecot_sasl:
  description: One result per instance with Dovecot users, as M(mailrelay.smtp.postfix_instances) returns them.
  returned: when the host has a Postfix job or O(record_path)
  type: list
  elements: dict
reload_needed:
  description: Names of the running instances that must be reloaded.
  returned: when the host has a Postfix job or O(record_path)
  type: list
  elements: str
restart_needed:
  description: Names of the running instances that must be restarted.
  returned: when the host has a Postfix job or O(record_path)
  type: list
  elements: str
retired:
  description: Instances named in O(record_path) that are no longer planned and retired (or would retire).
  returned: when the host has a Postfix job or O(record_path)
  type: list
  elements: dict
record_changed:
  description: Whether O(record_path) was (or would be) rewritten.
  returned: when the host has a Postfix job or O(record_path)
  type: bool
plan_changed:
  description: Whether the call changed (in check mode, would change) anything, kept when a task overrides C(changed).
  returned: when the host has a Postfix job or O(record_path)
  type: bool
opendkim:
  description: What the DKIM-signing hub's OpenDKIM signers would change, as M(mailrelay.smtp.postfix_instances) returns it.
  returned: in check mode, on the host of a Postfix hub that signs with DKIM
  type: dict
  sample: {changed: false, action: none, generated: [], removed: [], missing_packages: []}
missing_packages:
  description: Packages of O(packages) and, where needed, O(dovecot_packages) that are not installed; when not empty, nothing else was done.
  returned: when the host has a Postfix job or O(record_path)
  type: list
  elements: str
  sample: [dovecot-core]
skip_reason:
  description: Why the host was not contacted.
  returned: when skipped
  type: str
  sample: exch1 serves no job on Postfix
"""
