# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mailrelay.smtp.postfix_jobs builds one host's instances on the controller and sends them in one call.

``_execute_module`` is patched (as ansible.windows' action tests do): each test sees the
exact arguments of the one mailrelay.smtp.postfix_instances call, or that there was none.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import shutil
import subprocess
from unittest.mock import MagicMock

import pytest
import yaml

from ansible_collections.mailrelay.smtp.plugins.action.postfix_jobs import ActionModule
from ansible_collections.mailrelay.smtp.plugins.filter.postfix_jobs import FilterModule
from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_jobs import ROLE_ONLY_DEFAULTS
from ansible_collections.mailrelay.smtp.tests.unit.roles.conftest import SMTP_ROOT
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import make_action

FILTERS = FilterModule().filters()
PASSWORD = "jobs-action-secret"
TOPOLOGY = {
    "domains": ["example.org"],
    "tls": {"cert_file": "/etc/ssl/m.pem", "key_file": "/etc/ssl/m.key"},
    "submission": {
        "servers": [{"host": "core", "address": "192.0.2.10"}, {"host": "edge", "address": "192.0.2.20"}],
        "users": [{"login": "alice@example.org", "password": PASSWORD}],
    },
    "inbound_relay": {"servers": [{"host": "edge", "address": "192.0.2.11"}, {"host": "mx2", "address": "192.0.2.31", "platform": "iis"}]},
    "hub": {"servers": [{"host": "core", "address": "10.0.0.2"}], "submission_trust": "certificate"},
}
MODULE_RESULT = {"changed": False, "plan_changed": False, "instances": [], "dovecot_sasl": [], "reload_needed": [],
                 "restart_needed": [], "retired": [], "record_changed": False, "missing_packages": []}
PACKAGES = ["postfix", "postfix-pcre"]


def jobs_by_host(topology=None):
    return _topology.jobs_by_host(_topology.normalize(topology or TOPOLOGY))


class Call:
    """Runs the action with ``_execute_module`` patched; ``calls`` holds what the host would have received."""

    def __init__(self, args, variables=None, answer=None, check_mode=True):
        self.calls = []
        self.action = make_action(ActionModule, args, check_mode=check_mode, action_name="mailrelay.smtp.postfix_jobs")
        self.action._templar = MagicMock()
        self.action._templar.template.side_effect = lambda value: value
        self.action._execute_module = self.execute
        self.answer = dict(answer or MODULE_RESULT)
        self.result = self.action.run(task_vars=dict(variables or {}, inventory_hostname=args.get("host", "core")))

    def execute(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.calls.append((module_name, module_args))
        self.collector_enabled = gc.isenabled()
        return dict(self.answer)


def test_one_call_with_what_the_filter_plans_for_the_converge():
    jobs = jobs_by_host()
    variables = {"submission_hash_iterations": "50000", "hub_relay_networks": "yes"}
    call = Call({"jobs": jobs["core"], "packages": PACKAGES, "dovecot_packages": ["dovecot-core"],
                 "record_path": "/var/lib/mailrelay/site-core.json"}, variables)
    ((module, args),) = call.calls
    assert module == "mailrelay.smtp.postfix_instances"
    # The converge task of site.yml gets its instances from the filter: the plan must be the same.
    settings = {"hub": {"relay_networks": True}, "submission": {"hash_iterations": 50000}}
    assert args["instances"] == FILTERS["host_postfix_instances"](jobs["core"], "core", [], settings)
    assert [instance["name"] for instance in args["instances"]] == ["postfix-hub", "postfix-submission"]
    assert args["instances"][1]["dovecot_sasl"]["hash_iterations"] == 50000
    assert args["packages"] == PACKAGES + ["dovecot-core"]
    assert args["record_path"] == "/var/lib/mailrelay/site-core.json" and args["retire_queued"] == "refuse"
    assert call.result == MODULE_RESULT


def test_dovecot_is_checked_only_where_an_instance_has_its_users():
    jobs = jobs_by_host()
    relay_only = {"inbound_relay": jobs["edge"]["inbound_relay"]}
    ((dummy, args),) = Call({"jobs": relay_only, "host": "edge", "packages": PACKAGES, "dovecot_packages": ["dovecot-core"]}).calls
    assert args["packages"] == PACKAGES
    # Dovecot managed elsewhere: the submission instance carries no users, so no Dovecot package.
    ((dummy, args),) = Call({"jobs": jobs["edge"], "host": "edge", "packages": PACKAGES, "dovecot_packages": ["dovecot-core"]},
                            {"submission_dovecot_manage": False, "submission_sasl_path": "private/auth"}).calls
    assert "dovecot_sasl" not in args["instances"][1] and args["packages"] == PACKAGES


def test_a_host_without_postfix_jobs_is_not_contacted():
    call = Call({"jobs": jobs_by_host()["mx2"], "host": "mx2", "packages": PACKAGES})
    assert call.calls == []
    assert call.result["skipped"] is True and call.result["changed"] is False
    assert call.result["skip_reason"] == "mx2 serves no job on Postfix"


def test_a_host_without_jobs_but_with_its_record_retires_what_it_had():
    call = Call({"jobs": {}, "host": "old", "packages": PACKAGES, "record_path": "/var/lib/mailrelay/site-old.json"})
    ((dummy, args),) = call.calls
    # No instance: nothing to install or check, only the record to follow.
    assert args["instances"] == [] and args["packages"] == [] and args["record_path"] == "/var/lib/mailrelay/site-old.json"


def test_refused_settings_name_every_problem_and_reach_no_host():
    broken = jobs_by_host()["edge"]
    broken["submission"] = dict(broken["submission"], submission_tls_cert_file="", submission_users=[])
    call = Call({"jobs": broken, "host": "edge"}, {"submission_sender_login_maps": ""})
    assert call.calls == [] and call.result["failed"] is True
    assert "the submission settings of edge are refused (nothing was changed)" in call.result["msg"]
    assert "submission_tls_cert_file: needed" in call.result["msg"] and "submission_users: who may authenticate" in call.result["msg"]


def test_jobs_not_derived_by_the_topology_are_refused_without_a_secret():
    call = Call({"jobs": {"submission": "users: %s" % PASSWORD}, "host": "edge"})
    assert call.calls == [] and call.result["failed"] is True
    assert call.result["msg"].startswith("postfix_jobs: the jobs of edge are not those mailrelay.smtp.topology derives")
    assert PASSWORD not in json.dumps(call.result)


def test_warnings_of_the_job_checks_reach_the_result():
    hub = jobs_by_host()["core"]["hub"]
    hub = dict(hub, hub_relay_clients=hub["hub_relay_clients"] + [{"address": "192.0.2.128/25"}])
    call = Call({"jobs": {"hub": hub}}, {"hub_relay_networks": True})
    assert call.calls and call.result["warnings"] == [
        "hub_relay_clients[2].address: 192.0.2.128/25 is a network: every host in it may relay mail to the Internet"
        " through the hub (hub_relay_networks is true)"]


@pytest.fixture(name="certificate")
def certificate_fixture(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "edge.pem", tmp_path / "edge.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=edge.invalid",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    shown = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
                           check=True, capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    return cert.read_bytes(), shown


def test_the_hub_trusts_the_certificates_read_for_it_only(certificate):
    pem, fingerprint = certificate
    reads = [
        {"item": {"hub": "core", "host": "edge", "cert_file": "/etc/ssl/edge.pem"}, "content": base64.b64encode(pem).decode(), "encoding": "base64"},
        {"item": {"hub": "other-hub", "host": "edge", "cert_file": "/etc/ssl/edge.pem"}, "content": "bm90IGEgY2VydA=="},
    ]
    ((dummy, args),) = Call({"jobs": jobs_by_host()["core"], "certificate_reads": reads}).calls
    hub = args["instances"][0]
    assert hub["name"] == "postfix-hub" and fingerprint in json.dumps(hub)
    assert args["instances"] == FILTERS["host_postfix_instances"](jobs_by_host()["core"], "core", [fingerprint])


@pytest.mark.parametrize("read, message", [
    ({"failed": True, "msg": "file not found"}, "certificate_reads: the certificate /etc/ssl/edge.pem on edge was not read"),
    ({"content": "%%% not base64"}, "certificate_reads: /etc/ssl/edge.pem on edge is not base64 PEM text"),
])
def test_a_certificate_this_hub_needs_but_could_not_read_is_refused(read, message):
    reads = [dict(read, item={"hub": "core", "host": "edge", "cert_file": "/etc/ssl/edge.pem"})]
    call = Call({"jobs": jobs_by_host()["core"], "certificate_reads": reads})
    assert call.calls == [] and call.result["failed"] is True and message in call.result["msg"]


def test_bad_arguments_are_refused():
    with pytest.raises(Exception, match="retire_queued"):
        Call({"jobs": {}, "retire_queued": "later"})


def test_the_defaults_of_role_variables_are_the_job_roles_own():
    # What the action uses when the inventory sets nothing must be what the roles (and the converge) use.
    for job, defaults in ROLE_ONLY_DEFAULTS.items():
        with open(os.path.join(SMTP_ROOT, "roles", job, "defaults", "main.yml")) as handle:
            role_defaults = yaml.safe_load(handle) or {}
        assert {name: role_defaults["%s_%s" % (job, name)] for name in defaults} == defaults, job


def test_a_signing_hub_plans_its_opendkim_signer_in_the_same_call_as_the_hub_role_applies_it():
    signing = dict(TOPOLOGY, dkim={"selectors": ["s2026"], "active": "s2026"})
    jobs = jobs_by_host(signing)["core"]
    ((dummy, args),) = Call({"jobs": jobs}).calls
    hub = jobs["hub"]
    assert args["opendkim"] == {
        "name": "postfix-hub", "keys": hub["hub_dkim"]["keys"], "domains": ["example.org"],
        "internal_hosts": [client["address"] for client in hub["hub_relay_clients"]],
        "address": "127.0.0.1", "port": 8891}
    # The options are those the hub role gives mailrelay.smtp.opendkim (plus its own report_missing).
    with open(os.path.join(SMTP_ROOT, "roles", "hub", "tasks", "opendkim.yml")) as handle:
        (applied,) = [task["mailrelay.smtp.opendkim"] for task in yaml.safe_load(handle) if task["name"].startswith("Sign the own domains")][:1]
    assert set(applied) - {"report_missing"} == set(args["opendkim"])
    # Outside check mode the signer is the hub role's alone: postfix_instances only plans it.
    ((dummy, args),) = Call({"jobs": jobs}, check_mode=False).calls
    assert "opendkim" not in args
    # A hub that does not sign has no signer to plan.
    ((dummy, args),) = Call({"jobs": jobs_by_host()["core"]}).calls
    assert "opendkim" not in args


@pytest.mark.parametrize("variables, message", [
    ({"submission_hash_iterations": "many"}, "submission_hash_iterations: 'many' is not an integer; nothing was changed"),
    ({"submission_dovecot_manage": "perhaps"}, "submission_dovecot_manage: 'perhaps' is not a boolean; nothing was changed"),
    ({"submission_sasl_path": ["private/auth"]}, "submission_sasl_path: ['private/auth'] is not a string; nothing was changed"),
])
def test_role_variables_of_the_wrong_type_are_named_and_reach_no_host(variables, message):
    call = Call({"jobs": jobs_by_host()["edge"], "host": "edge"}, variables)
    assert call.calls == [] and call.result["failed"] is True and call.result["msg"] == message


@pytest.mark.parametrize("value, expected", [("yes", True), ("False", False), (1, True), (0, False), (True, True)])
def test_booleans_are_read_as_the_bool_filter_reads_them(value, expected):
    ((dummy, args),) = Call({"jobs": jobs_by_host()["edge"], "host": "edge"},
                            {"submission_dovecot_manage": value, "submission_sasl_path": "private/auth"}).calls
    assert ("dovecot_sasl" in args["instances"][1]) is expected


@pytest.mark.parametrize("enabled_before", [True, False])
def test_the_module_is_built_and_run_with_the_cyclic_collector_paused_then_set_back(enabled_before):
    if not enabled_before:
        gc.disable()
    try:
        call = Call({"jobs": jobs_by_host()["core"]})
        assert call.calls and call.collector_enabled is False
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()


def test_the_collector_is_set_back_when_the_module_call_raises():
    def raising(**kwargs):
        raise RuntimeError("connection lost")
    action = make_action(ActionModule, {"jobs": jobs_by_host()["core"]}, check_mode=True, action_name="mailrelay.smtp.postfix_jobs")
    action._templar = MagicMock()
    action._templar.template.side_effect = lambda value: value
    action._execute_module = raising
    with pytest.raises(RuntimeError):
        action.run(task_vars={"inventory_hostname": "core"})
    assert gc.isenabled()
