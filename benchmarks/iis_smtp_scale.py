#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the IIS SMTP resources scale: payload calls (by mode) and controller time for N relay addresses or N domains.

Runs the action plugins against the fake Windows host (tests/fakes/fake_metabase.py), so it measures the
controller side and counts round trips; the time a real host spends is not measured here.

    PYTHONPATH=.cache/collections .venv/bin/python benchmarks/iis_smtp_scale.py [N ...]
"""

from __future__ import annotations

import sys
import time

from ansible_collections.mailrelay.smtp.plugins.action.iis_smtp_domain import ActionModule as DomainAction
from ansible_collections.mailrelay.smtp.plugins.action.iis_smtp_server import ActionModule as ServerAction
from ansible_collections.mailrelay.smtp.tests.fakes.fake_metabase import FakeMetabase
from ansible_collections.mailrelay.smtp.tests.unit.utils.windows_action import WinPowerShellStub, make_action


def run(action_class, host, args):
    action = make_action(action_class, args)
    stub = WinPowerShellStub(host)
    action._execute_module = stub
    started = time.perf_counter()
    result = action.run(task_vars={})
    elapsed = time.perf_counter() - started
    if result.get("failed"):
        raise SystemExit(result["msg"])
    return elapsed, stub.modes(), result["changed"]


# The goal (issue 5): whatever N, a change costs one read and one apply, a re-run one read.
EXPECTED_CALLS = {"first": ["read", "apply"], "re-run": ["read"]}


def main(sizes):
    missed = []
    print("%-22s %6s %-7s %-12s %9s" % ("resource", "N", "run", "calls", "seconds"))
    for size in sizes:
        host = FakeMetabase.windows_default()
        addresses = ["10.%d.%d.%d" % (i // 65536, (i // 256) % 256, i % 256) for i in range(1, size + 1)]
        server = dict(name="bench", state="started", bindings=[{"address": "192.0.2.10", "port": 25}],
                      authentication=["anonymous"], relay_ip_list={"entries": addresses})
        domains = dict(server="bench", exclusive=True,
                       domains=[{"name": "d%05d.example" % i, "allow_relay": True, "smart_host": "10.0.0.2"} for i in range(size)])
        for label, action_class, args in (("iis_smtp_server relay", ServerAction, server), ("iis_smtp_domain", DomainAction, domains)):
            for attempt in ("first", "re-run"):
                elapsed, calls, changed = run(action_class, host, args)
                print("%-22s %6d %-7s %-12s %9.3f%s" % (label, size, attempt, "+".join(calls), elapsed, "" if changed else "  (no change)"))
                if calls != EXPECTED_CALLS[attempt] or changed != (attempt == "first"):
                    missed.append("%s N=%d %s: %s" % (label, size, attempt, "+".join(calls)))
    if missed:
        print("goal missed (expected read+apply, then read only): " + "; ".join(missed))
        return 1
    print("goal met: one read and at most one apply at every size")
    return 0


if __name__ == "__main__":
    sys.exit(main([int(arg) for arg in sys.argv[1:]] or [10, 100, 1000]))
