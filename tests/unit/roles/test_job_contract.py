# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One job contract, written in five places, proved to agree.

A job's settings are produced by the topology (``_topology.host_jobs``), mapped
to role variables by ``playbooks/site.yml``, defaulted in the job role's
``defaults/main.yml``, documented in its ``meta/argument_specs.yml`` and
collected for the platform builders (``_postfix_jobs``, ``_iis_jobs``,
``_exchange_jobs``) in its ``vars/main.yml``. A setting missing from any of
them would silently not reach a platform; these tests name the place.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
JOBS = ("submission", "inbound_relay", "hub")
# Role variables that are no topology setting: how the role converges, not what the job is.
ROLE_ONLY = {
    "submission": {"submission_postfix_defer", "submission_hash_iterations", "submission_dovecot_manage",
                   "submission_sasl_path", "submission_sender_login_maps"},
    "inbound_relay": {"inbound_relay_postfix_defer"},
    "hub": {"hub_postfix_defer", "hub_relay_networks"},
}
# Topology settings that choose the platform rather than configure it.
NOT_COLLECTED = {"platform"}
# Topology settings that name something site.yml reads on a host and passes on as other variables:
# the hub trusts the fingerprints of the certificates the topology names - read by site.yml on other
# hosts, and by the hub's own converge call (as files) on its host.
READ_ON_HOSTS = {"hub_relay_client_certificates": ("hub_relay_client_fingerprints", "hub_relay_client_certificate_files")}

TOPOLOGY = {
    "domains": ["example.org"],
    "submission": {"servers": [{"host": "h1", "address": "192.0.2.10"}], "users": [{"login": "a@example.org", "password": "pw"}]},
    "inbound_relay": {"servers": [{"host": "h1", "address": "192.0.2.11"}]},
    "hub": {"servers": [{"host": "h1", "address": "192.0.2.12"}], "mailboxes": ["a@example.org"]},
    "tls": {"cert_file": "/etc/ssl/c.pem", "key_file": "/etc/ssl/c.key"},
}


def load(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def topology_variables(job):
    """The role variables the topology's settings of ``job`` arrive as."""
    names = set()
    for name in _topology.host_jobs(_topology.normalize(TOPOLOGY), "h1")[job]:
        names.update(READ_ON_HOSTS.get(name, (name,)))
    return names


def site_mapping(job):
    """The variables playbooks/site.yml passes to the job role's include (its main entry point)."""
    (play,) = load("playbooks", "site.yml")
    includes = [task.get("ansible.builtin.include_role") or {} for task in play["tasks"]]
    (task,) = [task for task, include in zip(play["tasks"], includes)
               if include.get("name") == "mailrelay.smtp." + job and "tasks_from" not in include]
    return task["vars"]


def options(job):
    return load("roles", job, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]


def collected(job):
    """``__<job>_settings`` of vars/main.yml: {setting: the role variable it reads}."""
    settings = load("roles", job, "vars", "main.yml")["__%s_settings" % job]
    found = {}
    for key, value in settings.items():
        match = re.match(r"^\{\{ (%s_\w+)\b" % job, value)
        assert match, "roles/%s/vars/main.yml: %s does not read a %s_ variable (%r)" % (job, key, job, value)
        found[key] = match.group(1)
    return found


@pytest.mark.parametrize("job", JOBS)
def test_site_passes_every_topology_variable_and_nothing_else(job):
    mapping = site_mapping(job)
    passed = set(mapping) - ROLE_ONLY[job]
    assert passed == topology_variables(job)
    for name in passed - {variable for variables in READ_ON_HOSTS.values() for variable in variables}:
        suffix = name[len(job) + 1:]
        assert mapping[name] == "{{ __mailrelay_jobs.%s.%s_%s }}" % (job, job, suffix), name


@pytest.mark.parametrize("job", JOBS)
def test_argument_specs_document_every_variable_and_every_default(job):
    documented = options(job)
    assert topology_variables(job) | ROLE_ONLY[job] == set(documented)
    defaults = load("roles", job, "defaults", "main.yml")
    assert set(defaults) <= set(documented)
    for name, value in defaults.items():
        if "default" in documented[name]:
            assert documented[name]["default"] == value, "%s: defaults/main.yml and argument_specs disagree" % name


@pytest.mark.parametrize("job", JOBS)
def test_vars_collect_every_topology_setting_under_its_own_name(job):
    settings = collected(job)
    for name in topology_variables(job):
        suffix = name[len(job) + 1:]
        if suffix in NOT_COLLECTED:
            continue
        assert settings.get(suffix) == name, "roles/%s/vars/main.yml does not collect %s as %s" % (job, name, suffix)
    assert set(settings.values()) <= set(options(job)), "vars/main.yml reads an undocumented variable"
