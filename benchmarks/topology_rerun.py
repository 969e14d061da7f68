#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issues 4 and 16: performance goals for the whole local topology (three instances, one host).

1. The idempotent re-run of playbooks/site.yml with 10 own domains takes no
   more than 1.3x the wall time of a playbook that runs ONE no-op task
   against the same host (the physical limit: one module round trip per host).
2. Going from 10 to 1,000 own domains adds no more than 20% to that re-run.

Deploys postfix-bench-* on 127.0.6.0/24, measures medians of --runs rounds
(each round: the 10-domain re-run, the baseline, the 1,000-domain re-run, so
that the machine's drifts hit all three alike), prints them and exits 1 when
a goal is missed. Cleans up afterwards. Run as root:
    .venv/bin/python benchmarks/topology_rerun.py [--runs 5]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benchmarks", "topology")
RATIO_GOAL = 1.3
GROWTH_GOAL = 1.2


def topology(domain_count):
    domains = ["example.org"] + ["d%04d.example" % index for index in range(domain_count - 1)]
    return {
        "lab_state_dir": "/var/lib/mailrelay-bench",
        "lab_upstream_address": "127.0.6.20",
        "lab_probe_address": "127.0.6.30",
        "lab_tls_cert_file": "/etc/mailrelay-bench/tls/lab.pem",
        "lab_tls_key_file": "/etc/mailrelay-bench/tls/private/lab.key",
        "mailrelay_topology": {
            "domains": domains,
            "tls": {"cert_file": "/etc/mailrelay-bench/tls/lab.pem", "key_file": "/etc/mailrelay-bench/tls/private/lab.key"},
            "submission": {
                "servers": [{"host": "bench", "address": "127.0.6.11", "instance": "postfix-bench-submission"}],
                "users": [{"login": "alice@example.org", "password": "bench-Pa55"}],
            },
            "inbound_relay": {"servers": [{"host": "bench", "address": "127.0.6.12", "instance": "postfix-bench-inbound-relay"}]},
            "hub": {
                "servers": [{"host": "bench", "address": "127.0.6.13", "instance": "postfix-bench-hub"}],
                "mailboxes": ["alice@example.org"],
            },
            "outbound": {"method": "smarthost", "smarthost": {"host": "127.0.6.20", "tls": "none"}},
        },
    }


def playbook(args, extra_vars, expect_changed=None):
    command = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", os.path.join(HERE, "inventory.yml"), "-e", "@" + extra_vars] + args
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"))
    start = time.monotonic()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env, check=False)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit("%s failed:\n%s" % (" ".join(args), result.stdout[-3000:]))
    changed = re.search(r"^bench\s*:.*changed=(\d+)", result.stdout, re.MULTILINE)
    if expect_changed is not None and (not changed or int(changed.group(1)) != expect_changed):
        sys.exit("%s: expected changed=%d:\n%s" % (" ".join(args), expect_changed, result.stdout[-3000:]))
    return elapsed


def write_vars(directory, domain_count):
    path = os.path.join(directory, "topology-%d.yml" % domain_count)
    with open(path, "w") as handle:
        yaml.safe_dump(topology(domain_count), handle)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, large = write_vars(tmp, 10), write_vars(tmp, 1000)
        try:
            playbook([os.path.join(HERE, "prepare.yml")], small)
            times = {"baseline": [], "rerun_10": [], "rerun_1000": []}
            # Interleaved, so that the machine's drifts hit every measurement alike: each round
            # converges the 10-domain topology (not timed), times its re-run and the baseline,
            # then does the same with 1,000 domains.
            for dummy in range(args.runs):
                playbook(["mailrelay.smtp.site"], small)
                times["rerun_10"].append(playbook(["mailrelay.smtp.site"], small, expect_changed=0))
                times["baseline"].append(playbook([os.path.join(HERE, "baseline.yml")], small, expect_changed=0))
                playbook(["mailrelay.smtp.site"], large)
                times["rerun_1000"].append(playbook(["mailrelay.smtp.site"], large, expect_changed=0))
        finally:
            playbook(["mailrelay.smtp.demo_clean"], small)

    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["rerun_10"] / median["baseline"]
    growth = median["rerun_1000"] / median["rerun_10"]
    for name, value in median.items():
        print("%-16s median %.2f s  (runs: %s)" % (name, value, ", ".join("%.2f" % v for v in times[name])))
    print("re-run / one no-op task per host:     %.2f (goal <= %.1f)" % (ratio, RATIO_GOAL))
    print("1,000 domains / 10 domains:           %.2f (goal <= %.2f)" % (growth, GROWTH_GOAL))
    if ratio > RATIO_GOAL or growth > GROWTH_GOAL:
        print("FAIL: a performance goal is missed")
        return 1
    print("OK: both goals are met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
