# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The IIS side of the submission and inbound relay job roles, run by ansible-playbook against a fake Windows host.

The fake host and the stand-in ansible.windows modules come from conftest.py;
everything above them is real: the job roles' tasks/main.yml and tasks/iis.yml,
the iis_smtp platform role, the action plugins and their payload calls.
Each test runs ansible-playbook (a few seconds each).
"""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _iis_ip_security_list

PLAYBOOK = """
- name: Both IIS jobs on one fake Windows host
  hosts: winfake
  gather_facts: false
  tasks:
    - name: Inbound relay
      ansible.builtin.include_role:
        name: mailrelay.smtp.inbound_relay
      vars:
        inbound_relay_platform: iis
        inbound_relay_instance: mailrelay inbound relay
        inbound_relay_address: 192.0.2.11
        inbound_relay_hostname: mx.example.org
        inbound_relay_domains: [example.org, example.net]
        inbound_relay_next_hops: [{address: 10.0.0.2, port: 25}]
    - name: Submission
      ansible.builtin.include_role:
        name: mailrelay.smtp.submission
      vars:
        submission_platform: iis
        submission_instance: mailrelay submission
        submission_address: 192.0.2.10
        submission_hostname: smtp.example.org
        submission_next_hops: [{address: 10.0.0.2, port: 25}, {address: 10.0.0.3, port: 25}]
        submission_users: []
        submission_tls_cert_file: not-used-on-iis.pem
        submission_tls_key_file: not-used-on-iis.key
        submission_max_message_size: 10485760
        iis_smtp_submission_certificate_thumbprint: "{{ '0123456789ABCDEF0123456789ABCDEF01234567' }}"
"""


@pytest.fixture
def windows(fake_windows):
    return fake_windows(PLAYBOOK)


def task_results(report, name):
    return [task["hosts"]["winfake"] for playbook in report["plays"] for task in playbook["tasks"] if task["task"]["name"].split(" : ")[-1] == name]


def test_jobs_converge_then_rerun_without_changes(windows):
    play, host = windows
    report, stats = play()
    assert stats["changed"] > 0
    windows_host = host()
    assert {"SMTP-Server", "Web-Metabase", "Web-WMI"} <= windows_host.features
    assert windows_host.services["SMTPSVC"] == {"start_mode": "delayed", "state": "started"}
    metabase = windows_host.metabase
    default = metabase.server_by_name("[SMTP Virtual Server #1]")[1]
    assert default["state"] == 4 and default["props"]["ServerAutoStart"] is False

    index, relay = metabase.server_by_name("mailrelay inbound relay")
    assert relay["state"] == 2
    assert relay["props"]["ServerBindings"] == ["192.0.2.11:25:"]
    assert relay["props"]["AuthFlags"] == 1 and relay["props"]["RelayForAuth"] == 0
    assert _iis_ip_security_list.decode_blob(relay["props"]["RelayIpList"]) == _iis_ip_security_list.AccessList(False)
    assert relay["props"]["DefaultDomain"] == "inbound-relay.invalid"
    assert relay["props"]["QueueDirectory"] == "C:\\inetpub\\mailrelay\\mailrelay-inbound-relay\\Queue"
    assert {name: domain["props"]["RouteAction"] for name, domain in relay["domains"].items()} == {"example.org": 0x1002, "example.net": 0x1002}
    assert relay["domains"]["example.org"]["props"]["RouteActionString"] == "[10.0.0.2]"
    # Its own non-delivery notices go to the hub too (issue 13, item 4), never straight to the Internet.
    assert relay["props"]["SmartHost"] == "[10.0.0.2]" and relay["props"]["SmartHostType"] == 2

    submission = metabase.server_by_name("mailrelay submission")[1]
    assert submission["state"] == 2
    assert submission["props"]["ServerBindings"] == ["192.0.2.10:587:"]
    assert submission["props"]["AuthFlags"] == 6 and submission["props"]["AccessSSLFlags"] == 8
    assert submission["props"]["RelayForAuth"] == 0xFFFFFFFF
    assert submission["props"]["SmartHost"] == "[10.0.0.2]" and submission["props"]["SmartHostType"] == 2
    assert submission["props"]["SSLCertHash"] == bytes.fromhex("0123456789ABCDEF0123456789ABCDEF01234567")
    assert submission["props"]["MaxMessageSize"] == 10485760
    assert "C:\\inetpub\\mailrelay\\mailrelay-submission\\Badmail" in windows_host.folders
    notes = task_results(report, "Say what IIS does differently from Postfix")
    assert any("10.0.0.3 ignored" in str(result.get("msg")) for result in notes), notes

    calls_before = len(host().calls)
    report, stats = play()
    assert stats["changed"] == 0, stats
    # The re-run reads each resource once and applies nothing: one iis_smtp_info, two mail-folder
    # checks, and one read per resource (inbound relay server, its domains, submission server).
    second_run = [name for name, dummy in host().calls[calls_before:]]
    assert second_run == ["win_feature", "win_service"] + ["win_powershell"] * 6

    # Check mode with diff on the converged host: nothing to change, nothing run for real.
    before = host()
    report, stats = play("--check", "--diff")
    assert stats["changed"] == 0
    after = host()
    assert [name for name, check_mode in after.calls[len(before.calls):] if not check_mode] == []


def test_check_mode_on_a_fresh_host(windows):
    play, host = windows
    report, stats = play("--check")
    assert stats["changed"] > 0
    notes = task_results(report, "Say that check mode cannot preview IIS settings before the feature exists")
    assert notes and all("not previewed" in result["msg"] for result in notes)
    fresh = host()
    assert fresh.metabase.server_by_name("mailrelay submission")[1] is None
    assert not fresh.features


PLATFORM_ONLY = """
- name: The IIS platform role alone
  hosts: winfake
  gather_facts: false
  roles:
    - role: mailrelay.smtp.iis_smtp
      vars:
        iis_smtp_all_unassigned_servers_state: absent
"""


def test_absent_removes_stray_all_address_servers_but_only_stops_the_default_one(fake_windows, tmp_path):
    """Issue 15, item 10: the default virtual server #1 survives iis_smtp_all_unassigned_servers_state: absent."""
    play, host = fake_windows(PLATFORM_ONLY)
    prepared = host()
    prepared.metabase.add_server("stray", bindings=(":2525:",))
    prepared.save(str(tmp_path / "windows.pickle"))
    report, stats = play()
    metabase = host().metabase
    default = metabase.server_by_name("[SMTP Virtual Server #1]")[1]
    assert default is not None and default["state"] == 4 and default["props"]["ServerAutoStart"] is False
    assert metabase.server_by_name("stray")[1] is None
    report, stats = play()
    assert stats["changed"] == 0, stats
