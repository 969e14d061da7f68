# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The table logic, and the real nft inside a private network namespace (never the machine's own ruleset)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _nftables, _publishing, _topology

from .test__publishing import description

# As nft lists it: tab indentation.
OTHER_TABLE = (
    "table ip someone_else {\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority filter + 10; policy accept;\n"
    "\t\ttcp dport 8080 accept\n"
    "\t}\n"
    "}\n"
)


def gateway_text(desc=None):
    topology = _topology.normalize(desc or description())
    return _nftables.render_table("inet", "mailrelay", _publishing.host_chains(topology, "gw"))


def test_a_rendered_table_is_exactly_one_table_of_ours():
    text = gateway_text()
    assert _nftables.check_content("inet", "mailrelay", text) == []
    assert text.startswith("table inet mailrelay {\n\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")


@pytest.mark.parametrize("content, problem", [
    ("flush ruleset\n", "content"),
    ("table inet mailrelay {\n}\ntable ip other {\n}\n", "content"),
    ("table inet other {\n}\n", "content"),
    ("table inet mailrelay {\n\tinclude \"/etc/x\"\n}\n", "content"),
])
def test_content_that_would_touch_anything_else_is_refused(content, problem):
    assert [field for field, dummy in _nftables.check_content("inet", "mailrelay", content)][:1] == [problem]


def test_bad_names_and_families_are_named():
    fields = [field for field, dummy in _nftables.check_content("arp", "1bad name", None)]
    assert fields == ["family", "name"]


def test_the_diff_shows_only_the_rules_that_change():
    before = "\n".join(_nftables.normalize_listing(gateway_text())) + "\n"
    desc = description(dns_servers=["10.20.0.53", "10.20.0.54"])
    after = "\n".join(_nftables.normalize_listing(gateway_text(desc))) + "\n"
    changed = [line for line in _nftables.unified_diff(before, after, "inet mailrelay").splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == [
        '-oifname "out0" ip saddr 10.20.0.53 meta l4proto { tcp, udp } th dport 53 accept comment "DNS servers query the outside"',
        '+oifname "out0" ip saddr { 10.20.0.53, 10.20.0.54 } meta l4proto { tcp, udp } th dport 53 accept comment "DNS servers query the outside"',
    ]


def test_listing_handles_and_indentation_do_not_count_as_changes():
    assert _nftables.normalize_listing("table ip x { # handle 4\n\tchain c { # handle 1\n\t}\n}\n") == ["table ip x {", "chain c {", "}", "}"]


def test_the_watchdog_timeout_is_bounded():
    with pytest.raises(ValueError):
        _nftables.watchdog_argv("/p", "/r", 1)
    with pytest.raises(ValueError):
        _nftables.watchdog_argv("/p", "/r", 7200)


needs_root_nft = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"), reason="needs root, nft and ip (network namespaces)")


def test_a_confirm_while_the_watchdog_restores_is_refused(tmp_path):
    # Between the watchdog's two renames the pending file is gone but nothing says "restored" yet:
    # confirming then must not pass for a change that is being undone.
    table = _nftables.Table("inet", "mailrelay", None, str(tmp_path))
    assert table.restoring_file == _nftables.watchdog_argv(table.pending_file, table.rolled_back_file, 60)[2].split()[5]
    open(table.restoring_file, "w").close()
    with pytest.raises(_nftables.NftError, match="is being restored"):
        table.confirm()
    os.replace(table.restoring_file, table.rolled_back_file)
    with pytest.raises(_nftables.NftError, match="was restored"):
        table.confirm()


@pytest.fixture
def netns(tmp_path):
    """A network namespace of this test's own; the machine's ruleset is never touched."""
    name = "mailrelay-nft-%d-%d" % (os.getpid(), time.monotonic_ns() % 100000)
    subprocess.run(["ip", "netns", "add", name], check=True)
    spawned = []

    # Only the network namespace: ip netns exec also remounts / and /sys, which a chroot refuses.
    def run(argv, stdin=None):
        done = subprocess.run(["nsenter", "--net=/run/netns/" + name] + argv, input=stdin, capture_output=True, text=True, timeout=30, check=False)
        return done.returncode, done.stdout, done.stderr

    def spawn(argv):
        spawned.append(subprocess.Popen(["nsenter", "--net=/run/netns/" + name] + argv, start_new_session=True,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    try:
        yield run, spawn, spawned, tmp_path / "state"
    finally:
        for process in spawned:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", name], check=False)


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@needs_root_nft
def test_real_nft_lists_the_table_exactly_as_rendered_and_leaves_other_tables_alone(netns):
    run, spawn, dummy, state = netns
    (state.parent / "other.nft").write_text(OTHER_TABLE)
    assert run(["nft", "-f", str(state.parent / "other.nft")])[0] == 0
    table = _nftables.Table("inet", "mailrelay", run, str(state))
    text = gateway_text()
    assert table.plan(text)[2] is True
    assert table.apply(text) is None
    # Idempotence rests on this: nft prints back what was rendered.
    assert table.read() == text
    assert table.plan(text)[2] is False
    for desc in (description(dns_servers=["10.20.0.53", "10.20.0.54"]),
                 description(management={"networks": ["10.99.0.0/24", "fd99::/64"], "ports": [22, 5986]})):
        changed = gateway_text(desc)
        table.apply(changed)
        assert table.read() == changed
    assert run(["nft", "list", "table", "ip", "someone_else"])[1] == OTHER_TABLE
    table.apply(None)
    assert table.read() is None
    assert run(["nft", "list", "table", "ip", "someone_else"])[1] == OTHER_TABLE


@needs_root_nft
def test_a_table_nft_refuses_changes_nothing(netns):
    run, spawn, dummy, state = netns
    table = _nftables.Table("inet", "mailrelay", run, str(state))
    table.apply(gateway_text())
    broken = gateway_text().replace("policy drop;", "policy sometimes;")
    with pytest.raises(_nftables.NftError, match="policy sometimes"):
        table.check(broken)
    table.check(gateway_text(description(dns_servers=["10.20.0.54"])))
    with pytest.raises(_nftables.NftError, match="nft -c -f"):
        table.apply(broken)
    assert table.read() == gateway_text()


@needs_root_nft
def test_an_unconfirmed_change_is_rolled_back_by_the_host_itself(netns):
    run, spawn, dummy, state = netns
    table = _nftables.Table("inet", "mailrelay", run, str(state))
    table.apply(gateway_text())
    changed = gateway_text(description(dns_servers=["10.20.0.54"]))
    table.apply(changed, confirm_timeout=5, spawn=spawn)
    assert table.read() == changed and table.pending()
    with pytest.raises(_nftables.NftError, match="awaits confirmation"):
        table.apply(gateway_text(), confirm_timeout=5, spawn=spawn)
    assert wait_for(lambda: not table.pending(), 20)
    assert wait_for(lambda: table.read() == gateway_text(), 5)
    with pytest.raises(_nftables.NftError, match="restored"):
        table.confirm()


@needs_root_nft
def test_a_confirmed_change_stays_and_a_new_table_rolls_back_to_none(netns):
    run, spawn, spawned, state = netns
    table = _nftables.Table("inet", "mailrelay", run, str(state))
    table.apply(gateway_text(), confirm_timeout=5, spawn=spawn)
    assert table.confirm() is True
    assert table.confirm() is False
    spawned[0].wait(timeout=20)
    assert table.read() == gateway_text()
    table.apply(None)
    table.apply(gateway_text(), confirm_timeout=5, spawn=spawn)
    assert wait_for(lambda: table.read() is None, 20)
