# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Input that cannot be silently wrong: a table of bad inputs across the topology,
the job settings (job roles used alone) and postfix_config. Each is refused with
a message that names the field; none ends in a traceback."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _job_settings, _topology
from ansible_collections.mailrelay.smtp.plugins.module_utils import _validate as v
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import PostfixConfigError
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_engine import ConfigRequest

TLS = {"cert_file": "/etc/ssl/mail.pem", "key_file": "/etc/ssl/private/mail.key"}


def topology_description():
    return {
        "domains": ["example.org"],
        "tls": dict(TLS),
        "submission": {
            "servers": [{"host": "edge", "address": "192.0.2.10"}],
            "users": [{"login": "alice@example.org", "password": "secret-1"}],
        },
        "inbound_relay": {"servers": [{"host": "edge", "address": "192.0.2.11"}]},
        "hub": {"servers": [{"host": "core", "address": "10.0.0.2"}], "mailboxes": ["alice@example.org"]},
        "outbound": {"method": "smarthost", "smarthost": {"host": "smtp.example.net", "port": 587, "tls": "encrypt",
                                                          "username": "relay", "password": "pw"}},
    }


def _set(document, path, value):
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


TOPOLOGY_CASES = [
    (("submission", "servers", 0, "host"), ["edge"], "submission.servers[0].host"),
    (("submission", "servers", 0, "address"), ["192.0.2.10"], "submission.servers[0].address"),
    (("submission", "servers", 0, "address"), "192.0.2.0/24", "submission.servers[0].address"),
    (("submission", "servers", 0, "hostname"), "mail\nexample.org", "submission.servers[0].hostname"),
    (("submission", "servers", 0, "instance"), "postfix-a\nb", "submission.servers[0].instance"),
    (("submission", "servers", 0, "instance"), ["postfix-a"], "submission.servers[0].instance"),
    (("submission", "servers", 0, "port"), "abc", "submission.servers[0].port"),
    (("submission", "users", 0, "login"), ["alice"], "submission.users[0].login"),
    (("submission", "users", 0, "password"), "one\ntwo", "submission.users[0].password"),
    (("submission", "users", 0, "password"), ["secret"], "submission.users[0].password"),
    (("submission", "users", 0, "senders"), "alice@example.org", "submission.users[0].senders"),
    (("outbound", "smarthost", "username"), "relay:user", "outbound.smarthost.username"),
    (("outbound", "smarthost", "username"), "relay\nuser", "outbound.smarthost.username"),
    (("outbound", "smarthost", "username"), ["relay"], "outbound.smarthost.username"),
    (("outbound", "smarthost", "password"), "pw\nrelayhost = evil", "outbound.smarthost.password"),
    (("outbound", "smarthost", "host"), ["smtp.example.net"], "outbound.smarthost.host"),
    (("outbound", "dns_servers"), ["192.0.2.0/24"], "outbound.dns_servers[0]"),
    (("domains",), "example.org", "domains"),
    (("domains",), ["exa mple.org"], "domains[0]"),
    (("tls", "cert_file"), ["/etc/ssl/mail.pem"], "tls.cert_file"),
    (("tls", "key_file"), "/etc/ssl/private/mail.key\n", "tls.key_file"),
    (("submission", "placeholder_domain"), 5, "submission.placeholder_domain"),
    (("submission", "max_message_size"), "big", "submission.max_message_size"),
    (("hub", "mailboxes"), [{"a": 1}], "hub.mailboxes[0]"),
    (("hub", "mailboxes"), ["alice@example.org\r"], "hub.mailboxes[0]"),
    (("inbound_relay", "recipients"), ["alice@example.org", "bob@example.org\x00"], "inbound_relay.recipients[1]"),
    (("outbound", "smarthost", "password"), "pw\rrelayhost = evil", "outbound.smarthost.password"),
    (("submission", "users", 0, "login"), "alice@example.org\x00", "submission.users[0].login"),
]


@pytest.mark.parametrize("path, value, field", TOPOLOGY_CASES, ids=["topology-%d" % i for i in range(len(TOPOLOGY_CASES))])
def test_topology_refuses_with_the_field_named(path, value, field):
    description = topology_description()
    _set(description, path, value)
    with pytest.raises(_topology.TopologyError) as info:
        _topology.normalize(description, ["edge", "core"])
    assert any(problem.startswith(field + ":") for problem in info.value.problems), info.value.problems


def job(kind, **changes):
    settings = {
        "submission": {
            "instance": "postfix-submission", "address": "192.0.2.10", "port": 587, "hostname": "smtp.example.org",
            "placeholder_domain": "submission.invalid", "next_hops": [{"address": "10.0.0.2", "port": 25}],
            "users": [{"login": "alice@example.org", "password": "pw", "senders": ["alice@example.org"]}],
            "tls_cert_file": "/etc/ssl/mail.pem", "tls_key_file": "/etc/ssl/mail.key", "max_message_size": None,
            "sasl_path": "", "sender_login_maps": "",
        },
        "inbound_relay": {
            "instance": "postfix-inbound-relay", "address": "192.0.2.11", "port": 25, "hostname": "mx.example.org",
            "domains": ["example.org"], "next_hops": [{"address": "10.0.0.2", "port": 25}], "recipients": [],
            "tls_cert_file": None, "tls_key_file": None, "max_message_size": None,
        },
        "hub": {
            "instance": "postfix-hub", "address": "10.0.0.2", "port": 25, "hostname": "hub.example.org",
            "domains": ["example.org"], "relay_clients": [{"address": "192.0.2.10"}],
            "inbound_relays": [{"address": "192.0.2.11"}], "mailboxes": ["alice@example.org"],
            "outbound_method": "smarthost", "dns_servers": [],
            "smarthost": {"host": "smtp.example.net", "port": 587, "tls": "encrypt", "username": "relay", "password": "pw"},
            "tls_cert_file": None, "tls_key_file": None, "max_message_size": None,
        },
    }[kind]
    settings = copy.deepcopy(settings)
    for name, value in changes.items():
        settings[name] = value
    return settings


JOB_CASES = [
    ("hub", {"relay_clients": [{"address": "0.0.0.0/0"}]}, "hub_relay_clients[0].address"),
    ("hub", {"relay_clients": [{"address": "192.0.2.0/24"}]}, "hub_relay_clients[0].address"),
    ("hub", {"relay_clients": [{"address": "all"}]}, "hub_relay_clients[0].address"),
    ("hub", {"relay_clients": [{"address": ["192.0.2.10"]}]}, "hub_relay_clients[0].address"),
    ("hub", {"relay_clients": "192.0.2.10"}, "hub_relay_clients"),
    ("hub", {"inbound_relays": [{"address": "10.0.0.0/8"}]}, "hub_inbound_relays[0].address"),
    ("hub", {"smarthost": {"host": "smtp.example.net", "username": "a:b", "password": "pw", "tls": "encrypt"}}, "hub_smarthost.username"),
    ("hub", {"smarthost": {"host": "smtp.example.net", "username": "a", "password": "p\nq", "tls": "encrypt"}}, "hub_smarthost.password"),
    ("hub", {"smarthost": {"host": ["smtp.example.net"], "tls": "may"}}, "hub_smarthost.host"),
    ("hub", {"smarthost": {"host": "smtp.example.net", "port": "x"}}, "hub_smarthost.port"),
    ("hub", {"dns_servers": ["resolver"]}, "hub_dns_servers[0]"),
    ("hub", {"mailboxes": ["not-an-address"]}, "hub_mailboxes[0]"),
    ("hub", {"domains": ["example.org\nexample.net"]}, "hub_domains[0]"),
    ("hub", {"outbound_method": "carrier-pigeon"}, "hub_outbound_method"),
    ("hub", {"hostname": ["hub.example.org"]}, "hub_hostname"),
    ("inbound_relay", {"next_hops": [{"address": "hub.example.org"}]}, "inbound_relay_next_hops[0].address"),
    ("inbound_relay", {"next_hops": []}, "inbound_relay_next_hops"),
    ("inbound_relay", {"recipients": ["bob"]}, "inbound_relay_recipients[0]"),
    ("inbound_relay", {"instance": "relay"}, "inbound_relay_instance"),
    ("inbound_relay", {"port": 0}, "inbound_relay_port"),
    ("inbound_relay", {"tls_cert_file": "relative.pem"}, "inbound_relay_tls_cert_file"),
    ("submission", {"users": [{"login": "a:b", "password": "pw", "senders": []}]}, "submission_users[0].login"),
    ("submission", {"users": [{"login": "alice", "password": "a\nb", "senders": []}]}, "submission_users[0].password"),
    ("submission", {"users": [{"login": ["alice"], "password": "pw", "senders": []}]}, "submission_users[0].login"),
    ("submission", {"address": "0.0.0.0"}, "submission_address"),
    ("submission", {"sasl_path": "private/auth\nx"}, "submission_sasl_path"),
    ("submission", {"max_message_size": -1}, "submission_max_message_size"),
    ("hub", {"smarthost": {"host": "smtp.example.net", "username": "a", "password": "p\x00q", "tls": "encrypt"}}, "hub_smarthost.password"),
    ("hub", {"mailboxes": ["alice@example.org\r"]}, "hub_mailboxes[0]"),
    ("inbound_relay", {"recipients": ["alice@example.org\n"]}, "inbound_relay_recipients[0]"),
    ("submission", {"placeholder_domain": "submission\n.invalid"}, "submission_placeholder_domain"),
    ("submission", {"users": [{"login": "alice", "password": "pw", "senders": ["alice@example.org\r"]}]},
     "submission_users[0].senders[0]"),
]


@pytest.mark.parametrize("kind, changes, field", JOB_CASES, ids=["job-%d" % i for i in range(len(JOB_CASES))])
def test_job_settings_refuse_with_the_field_named(kind, changes, field):
    problems, _warnings = _job_settings.check(kind, job(kind, **changes))
    assert any(problem.startswith(field + ":") for problem in problems), problems


def test_valid_job_settings_pass():
    for kind in _job_settings.JOBS:
        assert _job_settings.check(kind, job(kind)) == ([], [])


def test_a_relay_network_needs_the_explicit_option_and_warns():
    problems, warnings = _job_settings.check("hub", job("hub", relay_clients=[{"address": "192.0.2.0/24"}], relay_networks=True))
    assert problems == []
    assert warnings and warnings[0].startswith("hub_relay_clients[0].address: 192.0.2.0/24 is a network")


CONFIG_CASES = [
    (dict(maps=[{"name": "sasl_passwd", "entries": {"[smtp.example.net]:587": "user:pass\nword"}}]), "maps[0] (sasl_passwd) entries["),
    (dict(maps=[{"name": "transport", "entries": [["example.org\nexample.net", "smtp:[10.0.0.2]"]]}]), "maps[0] (transport) entries["),
    (dict(maps=[{"name": "transport", "entries": {"example.org": ["relay:", "x\ny"]}}]), "maps[0] (transport) entries["),
    (dict(master_cf=[{"service": "587", "type": "inet", "command": "smtpd",
                      "options": {"smtpd_client_restrictions": "permit_sasl_authenticated,\nreject"}}]),
     "master_cf[0] (587/inet) options.smtpd_client_restrictions"),
    (dict(master_cf=[{"service": "587", "type": "inet", "command": "smtpd", "args": ["-v\n-v"]}]), "master_cf[0] (587/inet) args"),
    (dict(main_cf={"myhostname": {"a": 1}}), "main_cf.myhostname"),
    (dict(main_cf={"my hostname": "x"}), "main_cf"),
    (dict(main_cf={"mynetworks": [["127.0.0.1"]]}), "main_cf.mynetworks"),
    (dict(maps=[{"name": "../escape", "entries": {}}]), "maps[0]"),
    (dict(maps=[{"name": "t", "type": "nosuch", "entries": {}}]), "maps[0] (t)"),
    (dict(maps=[{"name": "t", "secret": True, "mode": "0644", "entries": {}}]), "maps[0] (t) mode"),
    (dict(maps=[{"name": "t", "mode": "rw-", "entries": {}}]), "maps[0] (t) mode"),
    (dict(master_cf=[{"service": "sub mission", "type": "inet", "command": "smtpd"}]), "master_cf[0]"),
    (dict(master_cf="submission inet n - n - - smtpd"), "master_cf"),
    # A line break (or NUL) anywhere: Postfix would read another value than the one given.
    (dict(main_cf={"smtpd_recipient_restrictions": "permit_mynetworks,\nreject"}), "main_cf.smtpd_recipient_restrictions"),
    (dict(main_cf={"relayhost": "[smtp.example.net]:587\n"}), "main_cf.relayhost"),
    (dict(main_cf={"myhostname": "mail.example.org\r"}), "main_cf.myhostname"),
    (dict(main_cf={"mydomain": "example\x00.org"}), "main_cf.mydomain"),
    (dict(main_cf={"mynetworks": ["127.0.0.1/32", "192.0.2.0/24\n"]}), "main_cf.mynetworks"),
    (dict(master_cf=[{"service": "587", "type": "inet", "command": "smtpd",
                      "options": {"syslog_name": "postfix/submission\r"}}]), "master_cf[0] (587/inet) options.syslog_name"),
    (dict(master_cf=[{"service": "587", "type": "inet", "command": "smtpd",
                      "options": {"smtpd_tls_security_level": "encrypt\x00"}}]),
     "master_cf[0] (587/inet) options.smtpd_tls_security_level"),
    (dict(maps=[{"name": "sasl_passwd", "entries": {"[smtp.example.net]:587": "user:pass\rword"}}]), "maps[0] (sasl_passwd) entries["),
    (dict(maps=[{"name": "relay_recipients", "entries": {"alice@example.org\x00": "OK"}}]), "maps[0] (relay_recipients) entries["),
]


@pytest.mark.parametrize("params, field", CONFIG_CASES, ids=["config-%d" % i for i in range(len(CONFIG_CASES))])
def test_postfix_config_refuses_with_the_field_named(params, field):
    with pytest.raises(PostfixConfigError) as info:
        ConfigRequest("/etc/postfix-x", **params)
    assert str(info.value).startswith(field), str(info.value)


def test_the_table_is_large_enough():
    assert len(TOPOLOGY_CASES) + len(JOB_CASES) + len(CONFIG_CASES) >= 40


@pytest.mark.parametrize("params, field", CONFIG_CASES, ids=["config-%d" % i for i in range(len(CONFIG_CASES))])
def test_postfix_config_refusals_are_input_errors_never_other_exceptions(params, field):
    # Whatever is wrong, the engine says so as a PostfixConfigError (the modules' fail_json), not a traceback.
    try:
        ConfigRequest("/etc/postfix-x", **params)
    except PostfixConfigError as error:
        assert error.args and str(error).startswith(field)
    else:
        pytest.fail("accepted: %r" % (params,))


@pytest.mark.parametrize("value, expected", [
    ("192.0.2.1", "192.0.2.1"), ("[2001:db8::1]", "2001:db8::1"), ("192.0.2.1/32", "192.0.2.1"),
])
def test_host_address(value, expected):
    assert v.check_host_address(value, "f") == expected


@pytest.mark.parametrize("value", ["192.0.2.0/24", "0.0.0.0", "::", "224.0.0.1", "host", ["192.0.2.1"], None, True])
def test_not_a_host_address(value):
    with pytest.raises(v.InvalidInput) as info:
        v.check_host_address(value, "field")
    assert info.value.field == "field"


def test_instance_names():
    assert v.is_instance_name("postfix") and v.is_instance_name("postfix-Hub.2")
    for bad in ("postfix-", "relay", "postfix-a/b", "postfix-a\n", ["postfix"]):
        assert not v.is_instance_name(bad)


def full_topology_description():
    """Every string-valued setting a description can hold, each with a valid value."""
    description = topology_description()
    description["tls"]["ca_file"] = "/etc/ssl/mail-ca.pem"
    description["submission"]["servers"][0].update(hostname="smtp.example.org", instance="postfix-submission")
    description["submission"]["users"][0]["senders"] = ["alice@example.org"]
    description["submission"]["placeholder_domain"] = "submission.invalid"
    description["inbound_relay"]["servers"][0].update(hostname="mx.example.org", instance="postfix-inbound-relay")
    description["inbound_relay"]["recipients"] = ["alice@example.org"]
    description["inbound_relay"]["postscreen"] = {"allowlist": ["192.0.2.99"], "dnsbl_sites": ["zen.example.net"]}
    description["hub"]["servers"][0].update(hostname="hub.example.org", instance="postfix-hub")
    description["audit"] = {"recipient": "alice@example.org"}
    description["outbound"]["dns_servers"] = ["192.0.2.53"]
    return description


def _string_leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _string_leaves(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _string_leaves(value, path + (index,))
    elif isinstance(node, str) and len(node) > 1:
        yield path, node


def _field_name(path):
    text = ""
    for key in path:
        text += "[%d]" % key if isinstance(key, int) else ("." if text else "") + key
    return text


def test_the_full_description_is_valid():
    _topology.normalize(full_topology_description(), ["edge", "core"])


LEAVES = list(_string_leaves(full_topology_description()))


@pytest.mark.parametrize("char", v.LINE_BREAKS, ids=["LF", "CR", "NUL"])
@pytest.mark.parametrize("path, value", LEAVES, ids=[_field_name(path) for path, _value in LEAVES])
def test_a_line_break_anywhere_in_the_topology_is_refused_naming_the_field(path, value, char):
    description = full_topology_description()
    _set(description, path, value[:1] + char + value[1:])
    with pytest.raises(_topology.TopologyError) as info:
        _topology.normalize(description, ["edge", "core"])
    field = _field_name(path)
    # The field itself, or a key of it (a DNS list given as a string is dnsbl_sites[0].site).
    assert any(problem.startswith((field + ":", field + ".")) for problem in info.value.problems), info.value.problems


JOB_LEAVES = [(kind, path, value) for kind in _job_settings.JOBS for path, value in _string_leaves(job(kind))]


@pytest.mark.parametrize("char", v.LINE_BREAKS, ids=["LF", "CR", "NUL"])
@pytest.mark.parametrize("kind, path, value", JOB_LEAVES,
                         ids=["%s_%s" % (kind, _field_name(path)) for kind, path, _value in JOB_LEAVES])
def test_a_line_break_anywhere_in_a_job_role_is_refused_naming_the_field(kind, path, value, char):
    settings = job(kind)
    _set(settings, path, value[:1] + char + value[1:])
    problems, _warnings = _job_settings.check(kind, settings)
    field = "%s_%s" % (kind, _field_name(path))
    assert any(problem.startswith((field + ":", field + ".")) for problem in problems), problems
