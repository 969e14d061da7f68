# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/site.yml derives the jobs once per play and each host looks up its own.

Runs site.yml's own controller tasks (taken from the playbook file, up to the
per-host look-up) with real ansible-playbook over several hosts, then shows
each host's jobs: they must be what the per-host derivation gives.
"""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology
from ansible_collections.mailrelay.smtp.tests.unit.roles.conftest import ANSIBLE_PLAYBOOK, COLLECTIONS_ROOT, SMTP_ROOT

TOPOLOGY = {
    "domains": ["example.org"],
    "tls": {"cert_file": "/etc/ssl/m.pem", "key_file": "/etc/ssl/m.key"},
    "submission": {
        "servers": [{"host": "edge1", "address": "192.0.2.10"}, {"host": "edge2", "address": "192.0.2.20"}],
        "users": [{"login": "alice@example.org", "password": "derive-once-secret"}],
    },
    "inbound_relay": {"servers": [{"host": "edge1", "address": "192.0.2.11"}, {"host": "mx3", "address": "192.0.2.31"}]},
    "hub": {"servers": [{"host": "core", "address": "10.0.0.2"}]},
}
HOSTS = ("edge1", "edge2", "mx3", "core", "bystander")
LAST_CONTROLLER_TASK = "Work out the jobs of this host"
DERIVE_ONCE_TASK = "Work out the jobs of every host once"


def site_controller_tasks():
    with open(os.path.join(SMTP_ROOT, "playbooks", "site.yml")) as handle:
        play = yaml.safe_load(handle)[0]
    names = [task["name"] for task in play["tasks"]]
    return play, play["tasks"][:names.index(LAST_CONTROLLER_TASK) + 1]


def test_site_derives_once_and_every_host_gets_its_own_jobs(tmp_path):
    play, tasks = site_controller_tasks()
    derive = [task for task in tasks if task["name"] == DERIVE_ONCE_TASK]
    assert derive and derive[0]["run_once"] is True and derive[0]["no_log"] is True
    shown = {"name": "Show the jobs", "ansible.builtin.debug": {"var": "__mailrelay_jobs"}}
    playbook = [dict(play, tasks=tasks + [shown])]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(playbook))
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(
        {"all": {"hosts": {host: {"ansible_connection": "local"} for host in HOSTS}, "vars": {"mailrelay_topology": TOPOLOGY}}}))
    (tmp_path / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = false\n")
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT,
        ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
        ANSIBLE_HOME=str(tmp_path / "home"),
    )
    process = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")],
                             env=env, capture_output=True, text=True, timeout=300, check=False)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    report = json.loads(process.stdout)
    results = {task["task"]["name"]: task["hosts"] for task in report["plays"][0]["tasks"]}
    # Derived on one host only; run_once hands the fact to every host of the play.
    assert len(results[DERIVE_ONCE_TASK]) == 1
    assert "derive-once-secret" not in json.dumps(results[DERIVE_ONCE_TASK]) + json.dumps(results[LAST_CONTROLLER_TASK])
    topology = _topology.normalize(TOPOLOGY)
    assert sorted(results["Show the jobs"]) == sorted(HOSTS)
    for host in HOSTS:
        assert results["Show the jobs"][host]["__mailrelay_jobs"] == _topology.host_jobs(topology, host), host
    assert results["Show the jobs"]["bystander"]["__mailrelay_jobs"] == {}
