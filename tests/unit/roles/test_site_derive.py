# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/site.yml derives the jobs once per play and each host looks up its own.

Runs site.yml's own controller tasks (taken from the playbook file, up to the
derivation) with real ansible-playbook over several hosts, then shows each
host's jobs: they must be what the per-host derivation gives. Each host's
Postfix instances, worked out in one step (site.yml's play variable), must be
exactly what the job roles add to the play's list when they run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
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
DERIVE_ONCE_TASK = "Check the topology description and work out the jobs of every host once"
PREFLIGHT_TASK = "Check and plan the Postfix instances of every host before any host changes"
LAST_CONTROLLER_TASK = DERIVE_ONCE_TASK
JOB_INCLUDES = ("Deploy the hub", "Deploy the inbound relay", "Deploy the submission server")


def site_controller_tasks():
    with open(os.path.join(SMTP_ROOT, "playbooks", "site.yml")) as handle:
        play = yaml.safe_load(handle)[0]
    names = [task["name"] for task in play["tasks"]]
    return play, play["tasks"][:names.index(LAST_CONTROLLER_TASK) + 1]


def test_site_derives_once_and_every_host_gets_its_own_jobs(tmp_path):
    play, tasks = site_controller_tasks()
    derive = [task for task in tasks if task["name"] == DERIVE_ONCE_TASK]
    assert derive and derive[0]["run_once"] is True and derive[0]["mailrelay.smtp.topology"]["return_jobs"] is True
    shown = {"name": "Show the jobs", "ansible.builtin.debug": {"var": "__mailrelay_jobs"}}
    # site.yml's own job role includes, run for every job of the host (as before the
    # one-step plan): each role adds its instance to postfix_deferred_instances.
    includes = []
    for task in play["tasks"]:
        if task["name"] in JOB_INCLUDES:
            job = task["ansible.builtin.include_role"]["name"].split(".")[-1]
            includes.append(dict(task, when="'%s' in __mailrelay_jobs" % job))
    assert len(includes) == len(JOB_INCLUDES)
    (preflight,) = [task for task in play["tasks"] if task["name"] == PREFLIGHT_TASK]
    packages = {name: preflight["mailrelay.smtp.postfix_jobs"][name] for name in ("packages", "dovecot_packages")}
    compared = {"name": "Show the instances", "ansible.builtin.debug": {"msg": {
        "planned": "{{ __mailrelay_postfix_instances }}", "by_the_roles": "{{ postfix_deferred_instances | default([]) }}",
        "packages": packages}}}
    playbook = [dict(play, tasks=tasks + [shown] + includes + [compared])]
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
    names = {}
    for host in HOSTS:
        shown = results["Show the instances"][host]["msg"]
        assert shown["planned"] == shown["by_the_roles"], host
        names[host] = [instance["name"] for instance in shown["planned"]]
    assert names == {"edge1": ["postfix-inbound-relay", "postfix-submission"], "edge2": ["postfix-submission"],
                     "mx3": ["postfix-inbound-relay"], "core": ["postfix-hub"], "bystander": []}
    # The preflight checks the postfix role's packages (its defaults); the action adds Dovecot's
    # only where an instance has users (tests/unit/plugins/action/test_postfix_jobs.py).
    with open(os.path.join(SMTP_ROOT, "roles", "postfix", "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    for host in HOSTS:
        assert results["Show the instances"][host]["msg"]["packages"] == {
            "packages": defaults["postfix_packages"] + defaults["postfix_extra_packages"],
            "dovecot_packages": defaults["postfix_dovecot_packages"]}, host
    # The submission users travel with the instance, hashed by the module on the host.
    (submission,) = results["Show the instances"]["edge2"]["msg"]["planned"]
    assert submission["dovecot_sasl"] == {"users": [{"login": "alice@example.org", "password": "derive-once-secret"}], "hash_iterations": 100000}


READ_CERTIFICATES_TASK = "Read the certificates of submission servers on other hosts that the hubs trust"


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")
def test_the_hub_trusts_the_certificate_read_once_on_the_submission_host(tmp_path):
    cert, key = tmp_path / "edge.pem", tmp_path / "edge.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=edge.invalid",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    shown = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
                           check=True, capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    topology = {
        "domains": ["example.org"],
        "tls": {"cert_file": str(cert), "key_file": str(key)},
        "submission": {"servers": [{"host": "edge", "address": "192.0.2.10"}], "users": [{"login": "a@example.org", "password": "pw-secret"}]},
        "hub": {"servers": [{"host": "core", "address": "10.0.0.2"}], "submission_trust": "certificate"},
    }
    with open(os.path.join(SMTP_ROOT, "playbooks", "site.yml")) as handle:
        play = yaml.safe_load(handle)[0]
    names = [task["name"] for task in play["tasks"]]
    tasks = play["tasks"][:names.index(READ_CERTIFICATES_TASK) + 1]
    planned = {"name": "Show the instances", "ansible.builtin.debug": {"msg": "{{ __mailrelay_postfix_instances }}"}}
    (tmp_path / "play.yml").write_text(yaml.safe_dump([dict(play, tasks=tasks + [planned])]))
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(
        {"all": {"hosts": {host: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable} for host in ("core", "edge")},
                 "vars": {"mailrelay_topology": topology}}}))
    (tmp_path / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = false\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"))
    process = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")],
                             env=env, capture_output=True, text=True, timeout=300, check=False)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    results = {task["task"]["name"]: task["hosts"] for task in json.loads(process.stdout)["plays"][0]["tasks"]}
    # One task for every hub of the play: the certificate is read once, on the host it lives on.
    (read,) = results[READ_CERTIFICATES_TASK].values()
    assert [item["item"] for item in read["results"]] == [{"hub": "core", "host": "edge", "cert_file": str(cert)}]
    (hub,) = results["Show the instances"]["core"]["msg"]
    assert hub["name"] == "postfix-hub" and shown in json.dumps(hub)
    (submission,) = results["Show the instances"]["edge"]["msg"]
    assert shown not in json.dumps(submission)
