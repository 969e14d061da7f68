# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/hub/tasks/exchange.yml, rendered by Ansible's templating and run against the fake Exchange.

The role's tasks are loaded as Ansible loads them (trusted templates, block vars,
module_defaults merged under the task's own arguments, omit removed) and each
module task runs through its real action plugin; only the Windows host is fake.
"""

from __future__ import annotations

import importlib
import json
import os

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.mailrelay.smtp.plugins.filter import windows_jobs
from ansible_collections.mailrelay.smtp.tests.fakes.fake_exchange import ANONYMOUS, FakeExchange
from ansible_collections.mailrelay.smtp.tests.unit.plugins.action._exchange_helpers import Run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RELAY = "ms-Exch-SMTP-Accept-Any-Recipient"
TOPOLOGY_VARS = {
    "hub_platform": "exchange",
    "hub_instance": "mailrelay relay",
    "hub_address": "10.0.0.2",
    "hub_port": 25,
    "hub_hostname": "hub.corp.example",
    "hub_domains": ["corp.example", "mail.example"],
    "hub_relay_clients": [{"address": "10.0.0.11"}],
    "hub_inbound_relays": [{"address": "10.0.0.12"}, {"address": "10.0.0.11"}],
    "hub_outbound_method": "dns",
    "hub_smarthost": None,
    "hub_dns_servers": ["192.0.2.53"],
    "hub_max_message_size": 31457280,
    "inventory_hostname_short": "EX01",
}


def load(relative):
    return DataLoader().load_from_file(os.path.join(ROOT, relative), trusted_as_template=True)


def module_defaults_for(module, defaults):
    """What Ansible merges under a task's arguments: its action groups' defaults (meta/runtime.yml), then its own."""
    groups = yaml.safe_load(open(os.path.join(ROOT, "meta", "runtime.yml")))["action_groups"]
    args = {}
    short = module.split(".")[-1]
    for group, members in groups.items():
        if short in members:
            args.update(defaults.get("group/mailrelay.smtp." + group) or {})
    args.update(defaults.get(module) or {})
    return args


def module_tasks(variables):
    """``[(module, args)]`` of the role's module tasks, as Ansible would hand them to the action plugins."""
    loader = DataLoader()
    tasks = load("roles/hub/tasks/exchange.yml")
    include = tasks[0]["ansible.builtin.include_role"]
    assert include == {"name": "mailrelay.smtp.exchange", "tasks_from": "preflight", "public": True}
    block = tasks[1]
    scope = dict(variables)
    scope.update(block.get("vars") or {})
    templar = Templar(loader=loader, variables=scope)
    # The collection's own filter: plain pytest runs without Ansible's collection loader.
    templar._engine.environment.filters["mailrelay.smtp.exchange_job_resources"] = windows_jobs.exchange_job_resources
    rendered = []
    for task in block["block"]:
        if "when" in task and not templar.evaluate_conditional(task["when"]):
            continue
        (module,) = [key for key in task if key.startswith("mailrelay.smtp.")]
        args = module_defaults_for(module, block["module_defaults"])
        args.update(task[module])
        rendered.append((module, templar.template(args)))
    return rendered


def role_variables(**overrides):
    variables = dict(load("roles/hub/defaults/main.yml"))
    variables.update(load("roles/hub/vars/main.yml"))
    variables.update(load("roles/exchange/defaults/main.yml"))
    variables.update(TOPOLOGY_VARS)
    variables.update(overrides)
    return variables


def converge(fake, **overrides):
    runs = []
    for module, args in module_tasks(role_variables(**overrides)):
        action = importlib.import_module("ansible_collections.mailrelay.smtp.plugins.action." + module.split(".")[-1])
        run = Run(fake, action.ActionModule, args)
        assert not run.result.get("failed"), (module, run.result)
        runs.append((module, run))
    return runs


@pytest.fixture
def fake():
    return FakeExchange()


def explicit(fake, name):
    return fake.explicit_aces(fake.connector("EX01", name))


def test_hub_on_exchange_converges_and_is_idempotent(fake):
    first = converge(fake)
    assert [module for module, dummy in first] == [
        "mailrelay.smtp.exchange_accepted_domain",
        "mailrelay.smtp.exchange_receive_connector",
        "mailrelay.smtp.exchange_receive_connector",
        "mailrelay.smtp.exchange_transport_dns",
        "mailrelay.smtp.exchange_send_connector",
    ]
    assert all(run.result["changed"] for dummy, run in first)

    relay = fake.connector("EX01", "mailrelay relay")
    assert [text for dummy, text in relay["ranges"]] == ["10.0.0.11"]
    assert relay["transport_role"] == "FrontendTransport" and relay["fqdn"] == "hub.corp.example"
    assert relay["max_message_size"] == 31457280
    assert (ANONYMOUS, RELAY, False) in explicit(fake, "mailrelay relay")

    inbound = fake.connector("EX01", "mailrelay inbound")
    assert [text for dummy, text in inbound["ranges"]] == ["10.0.0.12"]
    # Issue 13, item 4: the inbound relays' own notices leave through the hub; only their address may relay there.
    assert (ANONYMOUS, RELAY, False) in explicit(fake, "mailrelay inbound")
    assert inbound["bindings"] == relay["bindings"]

    assert {d["domain"] for d in fake.accepted_domains} == {"corp.example", "mail.example"}
    assert fake.transport["EX01"]["ExternalDNSServers"] == ["192.0.2.53"]
    assert fake.transport["EX01"]["ExternalDNSAdapterEnabled"] is False
    (send,) = fake.send_connectors
    assert send["name"] == "mailrelay outbound" and send["DNSRoutingEnabled"] and send["UseExternalDNSServersEnabled"]
    assert send["SourceTransportServers"] == ["EX01"]

    second = converge(fake)
    assert [run.result["changed"] for dummy, run in second] == [False] * 5
    # The cost budget: one read per resource and no apply on a no-op.
    assert [run.modes for dummy, run in second] == [["read"]] * 5


def test_stale_relay_rights_on_the_hub_connector_are_removed(fake):
    converge(fake)
    fake.grant(fake.connector("EX01", "mailrelay inbound"), "S-1-1-0", RELAY)
    fake.grant(fake.connector("EX01", "mailrelay relay"), "S-1-1-0", RELAY)
    runs = converge(fake)
    assert [run.result["changed"] for dummy, run in runs] == [False, True, True, False, False]
    assert ("S-1-1-0", RELAY, False) not in explicit(fake, "mailrelay inbound")
    assert ("S-1-1-0", RELAY, False) not in explicit(fake, "mailrelay relay")


def test_without_notices_the_inbound_relays_cannot_relay_and_a_left_over_right_is_removed(fake):
    """Issue 13, item 4: exchange_hub_inbound_relay_notices false, after a run that granted the right."""
    converge(fake)
    assert (ANONYMOUS, RELAY, False) in explicit(fake, "mailrelay inbound")
    runs = converge(fake, exchange_hub_inbound_relay_notices=False)
    assert [run.result["changed"] for dummy, run in runs] == [False, False, True, False, False]
    assert not [ace for ace in explicit(fake, "mailrelay inbound") if ace[1] == RELAY]
    runs = converge(fake, exchange_hub_inbound_relay_notices=False)
    assert [run.result["changed"] for dummy, run in runs] == [False] * 5


def test_smart_host_with_credentials(fake):
    smarthost = {"host": "smtp.provider.example", "port": 587, "tls": "encrypt", "username": "corp-relay", "password": "Pr0vider-Pass"}
    runs = converge(fake, hub_outbound_method="smarthost", hub_smarthost=smarthost, hub_dns_servers=[])
    (send,) = fake.send_connectors
    assert send["DNSRoutingEnabled"] is False and send["SmartHosts"] == ["smtp.provider.example"] and send["Port"] == 587
    assert send["RequireTLS"] is True and send["SmartHostAuthMechanism"] == "BasicAuth"
    assert send["credential"].username == "corp-relay" and send["credential"].password == "Pr0vider-Pass"
    assert send["UseExternalDNSServersEnabled"] is False
    assert fake.transport["EX01"]["ExternalDNSAdapterEnabled"] is True
    assert "Pr0vider-Pass" not in json.dumps([run.result for dummy, run in runs])
    again = converge(fake, hub_outbound_method="smarthost", hub_smarthost=smarthost, hub_dns_servers=[])
    assert [run.result["changed"] for dummy, run in again] == [False] * 5


def test_no_relay_clients_means_no_relay_connector(fake):
    converge(fake)
    converge(fake, hub_relay_clients=[])
    assert not any(c["name"] == "mailrelay relay" for c in fake.receive_connectors)
    # The inbound relays keep their connector (relaying only so their notices leave); 10.0.0.11 now counts as inbound.
    assert {text for dummy, text in fake.connector("EX01", "mailrelay inbound")["ranges"]} == {"10.0.0.12", "10.0.0.11"}
    assert [ace for ace in explicit(fake, "mailrelay inbound") if ace[1] == RELAY] == [(ANONYMOUS, RELAY, False)]


def test_transport_dns_can_be_left_alone(fake):
    fake.transport["EX01"]["ExternalDNSServers"] = ["203.0.113.53"]
    fake.transport["EX01"]["ExternalDNSAdapterEnabled"] = False
    runs = converge(fake, exchange_hub_manage_transport_dns=False)
    assert "mailrelay.smtp.exchange_transport_dns" not in [module for module, dummy in runs]
    assert fake.transport["EX01"]["ExternalDNSServers"] == ["203.0.113.53"]


def test_every_module_gets_the_session_of_the_exchange_role(fake):
    fake.snapin_installed = False  # a local session would fail: every task must go through the endpoint
    fake.remote_needs_credential = True
    runs = converge(
        fake,
        exchange_session="remote",
        exchange_connection_uri="http://ex01.corp.example/PowerShell/",
        exchange_session_username="CORP\\mailadmin",
        exchange_session_password="Adm1n-Pass",
    )
    assert len(runs) == 5 and all(run.result["changed"] for dummy, run in runs)
    assert "Adm1n-Pass" not in json.dumps([run.result for dummy, run in runs])


def test_ipv6_hub_address_is_bracketed(fake):
    converge(fake, hub_address="2001:db8::2")
    assert {str(a) for a, p in fake.connector("EX01", "mailrelay relay")["bindings"]} == {"2001:db8::2"}


def test_exchange_role_documents_every_default():
    defaults = yaml.safe_load(open(os.path.join(ROOT, "roles/exchange/defaults/main.yml")))
    specs = yaml.safe_load(open(os.path.join(ROOT, "roles/exchange/meta/argument_specs.yml")))["argument_specs"]
    for entry_point in ("main", "preflight"):
        options = specs[entry_point]["options"]
        assert set(options) == set(defaults)
        for name, value in defaults.items():
            assert options[name].get("default") == value, name
            assert name.startswith("exchange_")


def test_session_options_are_set_once_for_the_action_group():
    """Issue 15: module_defaults of the action group, not a YAML anchor per module."""
    block = load("roles/hub/tasks/exchange.yml")[1]
    assert list(block["module_defaults"]) == ["group/mailrelay.smtp.exchange"]
    groups = yaml.safe_load(open(os.path.join(ROOT, "meta", "runtime.yml")))["action_groups"]
    modules = {key.split(".")[-1] for task in block["block"] for key in task if key.startswith("mailrelay.smtp.")}
    assert modules <= set(groups["exchange"])
    assert set(groups["exchange"]) == {name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules")) if name.startswith("exchange_")}
    assert set(groups["iis_smtp"]) == {name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules")) if name.startswith("iis_smtp")}


def test_the_default_session_is_remote(fake):
    """Issue 15, item 1: the role reaches Exchange through the remote endpoint unless told otherwise."""
    assert role_variables()["exchange_session"] == "remote"
    runs = converge(fake, exchange_session_username="CORP\\mailadmin", exchange_session_password="Adm1n-Pass")
    assert all(call["parameters"]["Session"] == "remote" for dummy, run in runs for call in run.stub.calls)
