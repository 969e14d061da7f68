# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""benchmarks/many_hosts.py: its description, address plan and recap parsing (no host is built here)."""

from __future__ import annotations

import importlib.util
import ipaddress
import os

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_topology.__file__))))
SPEC = importlib.util.spec_from_file_location("many_hosts", os.path.join(ROOT, "benchmarks", "many_hosts.py"))
many_hosts = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(many_hosts)
PUBLISHING_LAB = [ipaddress.ip_network(n) for n in ("198.18.10.0/24", "198.18.20.0/24", "198.18.30.0/24", "198.18.99.0/24")]


@pytest.mark.parametrize("count", [3, 10, 30])
def test_the_description_is_valid_and_gives_every_host_one_job(count):
    lab = many_hosts.Lab(count)
    topology = _topology.normalize(lab.topology(), inventory_hosts=lab.names)
    jobs = _topology.jobs_by_host(topology)
    assert sorted(jobs) == lab.names
    assert [list(jobs[name]) for name in lab.names] == [["hub"], ["submission"]] + [["inbound_relay"]] * (count - 2)


def test_the_listeners_are_the_jobs_addresses_and_ports():
    lab = many_hosts.Lab(4)
    jobs = _topology.jobs_by_host(_topology.normalize(lab.topology(), inventory_hosts=lab.names))
    derived = sorted((host, job[name + "_address"], job[name + "_port"])
                     for host, host_jobs in jobs.items() for name, job in host_jobs.items())
    assert sorted(lab.listeners()) == derived


def test_addresses_are_distinct_inside_the_range_and_apart_from_the_publishing_lab():
    addresses = [ipaddress.ip_address(many_hosts.host_address(i)) for i in range(1, 31)]
    assert len(set(addresses)) == 30
    assert many_hosts.CONTROLLER not in addresses
    assert all(address in many_hosts.NETWORK for address in addresses)
    assert not any(many_hosts.NETWORK.overlaps(net) for net in PUBLISHING_LAB)


def test_the_recap_is_read_per_host():
    output = (
        "PLAY RECAP *****\n"
        "h01                        : ok=20   changed=0    unreachable=0    failed=0    skipped=9    rescued=0    ignored=0\n"
        "h02                        : ok=13   changed=2    unreachable=0    failed=1    skipped=6    rescued=0    ignored=0\n"
    )
    recap = {m.group("host"): m.groupdict() for m in many_hosts.RECAP.finditer(output)}
    assert recap["h01"]["changed"] == "0" and recap["h01"]["failed"] == "0"
    assert recap["h02"]["changed"] == "2" and recap["h02"]["failed"] == "1"
