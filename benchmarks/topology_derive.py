#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 16's controller goal: the jobs of every host are derived in linear time.

For descriptions of 20, 200 and 2,000 servers (half submission servers, half
inbound relays, each on its own host, plus one hub), measures the controller
CPU time of what playbooks/site.yml does on the controller:

1. the check task (mailrelay.smtp.topology with return_jobs: validation, its
   summary and every host's jobs), once;
2. each host's look-up of its own jobs.

Goals: all of it costs <= 2 s for 2,000 servers, and the cost per host does
not grow with the description (at most 2x from 200 to 2,000 servers;
quadratic growth would be 10x). For reference it also prints what the former
per-host derivation (the topology_jobs filter once per host) costs at the
sizes where that stays quick. Best of --runs runs (CPU time, so another
process on the machine changes it little). Exits 1 when a goal is missed.

    PYTHONPATH=.cache/collections .venv/bin/python benchmarks/topology_derive.py [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import time

from ansible_collections.mailrelay.smtp.plugins.action.topology import summarize
from ansible_collections.mailrelay.smtp.plugins.filter.topology import topology_jobs
from ansible_collections.mailrelay.smtp.plugins.module_utils import _topology

SIZES = (20, 200, 2000)
TOTAL_GOAL_SECONDS = 2.0
GOAL_SIZE = 2000
GROWTH_GOAL = 2.0
# The per-host filter costs O(servers) per host: beyond this it takes minutes.
PER_HOST_REFERENCE_MAX = 200


def description(server_count):
    """``server_count`` servers: half submission, half inbound relay, one host each, plus one hub."""
    half = server_count // 2
    return {
        "domains": ["example.org", "example.net"],
        "tls": {"cert_file": "/etc/ssl/mail.pem", "key_file": "/etc/ssl/private/mail.key"},
        "submission": {
            "servers": [{"host": "sub%04d" % index, "address": "10.1.%d.%d" % (index // 250, index % 250 + 1)} for index in range(half)],
            "users": [{"login": "user%02d@example.org" % index, "password": "secret-%02d" % index} for index in range(20)],
        },
        "inbound_relay": {
            "servers": [{"host": "mx%04d" % index, "address": "10.2.%d.%d" % (index // 250, index % 250 + 1)} for index in range(server_count - half)],
        },
        "hub": {"servers": [{"host": "hub", "address": "10.0.0.2"}], "mailboxes": ["postmaster@example.org"]},
        "outbound": {"method": "dns"},
    }


def hosts_of(desc):
    return [server["host"] for job in _topology.JOBS for server in desc[job]["servers"]]


def play_on_controller(desc, hosts):
    """What site.yml computes on the controller for one play over ``hosts``: the topology
    action (return_jobs) checks, summarizes and derives once; each host looks up its entry."""
    topology = _topology.normalize(desc, hosts)
    jobs_by_host = _topology.jobs_by_host(topology)
    summarize(topology, jobs_by_host)
    return [jobs_by_host.get(host, {}) for host in hosts]


def per_host_filter(desc, hosts):
    """The former way: each host validates and derives the whole description itself."""
    return [topology_jobs(desc, host) for host in hosts]


def best_cpu_seconds(function, runs, *args):
    best = None
    for dummy in range(runs):
        started = time.process_time()
        function(*args)
        elapsed = time.process_time() - started
        best = elapsed if best is None else min(best, elapsed)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    print("%8s %6s %12s %14s %24s" % ("servers", "hosts", "total (s)", "per host (ms)", "per-host filter (ms/host)"))
    per_host = {}
    totals = {}
    for size in SIZES:
        desc = description(size)
        hosts = hosts_of(desc)
        # Same answer both ways before anything is timed.
        if size <= PER_HOST_REFERENCE_MAX and play_on_controller(desc, hosts) != per_host_filter(desc, hosts):
            print("the derived-once jobs differ from the per-host filter's at %d servers" % size)
            return 1
        totals[size] = best_cpu_seconds(play_on_controller, args.runs, desc, hosts)
        per_host[size] = totals[size] / len(hosts)
        reference = "-"
        if size <= PER_HOST_REFERENCE_MAX:
            reference = "%.3f" % (best_cpu_seconds(per_host_filter, args.runs, desc, hosts) / len(hosts) * 1000)
        print("%8d %6d %12.3f %14.4f %24s" % (size, len(hosts), totals[size], per_host[size] * 1000, reference))

    missed = []
    if totals[GOAL_SIZE] > TOTAL_GOAL_SECONDS:
        missed.append("%d servers cost %.2f s (goal <= %.1f s)" % (GOAL_SIZE, totals[GOAL_SIZE], TOTAL_GOAL_SECONDS))
    for small, large in zip(SIZES, SIZES[1:]):
        growth = per_host[large] / per_host[small]
        print("per-host cost %d -> %d servers: %.2fx (linear: about 1x, quadratic: %dx)" % (small, large, growth, large // small))
        if growth > GROWTH_GOAL:
            missed.append("per-host cost grew %.2fx from %d to %d servers (goal <= %.1fx)" % (growth, small, large, GROWTH_GOAL))
    if missed:
        print("goal missed: " + "; ".join(missed))
        return 1
    print("goal met: %d servers in %.2f s (<= %.1f s), linear growth" % (GOAL_SIZE, totals[GOAL_SIZE], TOTAL_GOAL_SECONDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
