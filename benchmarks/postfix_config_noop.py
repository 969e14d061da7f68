#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 2's performance goal for mailrelay.smtp.postfix_config.

A no-op re-run of one instance with 40 main.cf parameters, 5 master.cf
services and 3 maps must take one module call, and its wall time must be
within 1.5x of a playbook that runs a single ``command: true`` task against
the same host.

Creates the instance postfix-it-bench on 127.0.2.41 (adding the address to lo
when missing), converges it once, then times --runs runs of each playbook,
interleaved so that load drifts hit both alike (same ansible.cfg, same
inventory, gather_facts false, the system Python on the target). Prints both
medians and the ratio; exits 1 when the ratio exceeds the goal, when a no-op
run reports a change or when it runs anything but the one module task.
Removes the instance and the address afterwards. Run as root:

    .venv/bin/python benchmarks/postfix_config_noop.py [--runs 7] [--goal 1.5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, '.venv', 'bin')
NAME = 'postfix-it-bench'
ADDRESS = '127.0.2.41'
CONFIG_DIR = '/etc/' + NAME

MAIN_CF = {
    'compatibility_level': '3.6', 'myhostname': 'bench.it.test', 'mydomain': 'it.test', 'myorigin': '$myhostname',
    'inet_interfaces': ADDRESS, 'inet_protocols': 'ipv4', 'smtp_bind_address': ADDRESS,
    'maillog_file': '/var/log/%s.log' % NAME, 'mydestination': '', 'alias_maps': '', 'alias_database': '',
    'local_recipient_maps': '', 'mynetworks': '127.0.0.0/8', 'relay_domains': 'it.test',
    'transport_maps': 'hash:%s/transport' % CONFIG_DIR, 'smtp_sasl_password_maps': 'hash:%s/sasl_passwd' % CONFIG_DIR,
    'smtp_sasl_auth_enable': False, 'header_checks': 'regexp:%s/header_checks' % CONFIG_DIR,
    'smtpd_banner': '$myhostname ESMTP bench', 'biff': False, 'append_dot_mydomain': False,
    'disable_vrfy_command': True, 'smtpd_helo_required': True, 'allow_percent_hack': False, 'swap_bangpath': False,
    'allow_untrusted_routing': False,
    'smtpd_relay_restrictions': ['permit_mynetworks', 'reject_unauth_destination'],
    'smtpd_recipient_restrictions': ['permit_mynetworks', 'reject_unauth_destination', 'reject_non_fqdn_recipient',
                                     'reject_unknown_recipient_domain'],
    'smtpd_client_restrictions': '', 'message_size_limit': 10240000, 'mailbox_size_limit': 0,
    'recipient_delimiter': '+', 'smtpd_tls_security_level': 'none', 'smtp_tls_security_level': 'none',
    'delay_warning_time': '0h', 'maximal_queue_lifetime': '1d', 'bounce_queue_lifetime': '1d',
    'smtpd_timeout': '60s', 'smtpd_error_sleep_time': 0, 'default_process_limit': 20,
}
MASTER_CF = [
    {'service': 'smtp', 'type': 'inet', 'private': 'n', 'chroot': 'y', 'command': 'smtpd'},
    {'service': '%s:2525' % ADDRESS, 'type': 'inet', 'private': 'n', 'chroot': 'n', 'command': 'smtpd',
     'options': {'syslog_name': '%s/2525' % NAME, 'smtpd_client_restrictions': 'permit_mynetworks, reject'}},
    {'service': 'discard', 'type': 'unix', 'chroot': 'n', 'command': 'discard'},
    {'service': 'bench-pipe', 'type': 'unix', 'unpriv': 'n', 'chroot': 'n', 'command': 'pipe',
     'args': 'flags=q user=nobody argv=/bin/true ${recipient}'},
    {'service': 'submission', 'type': 'inet', 'private': 'n', 'chroot': 'n', 'command': 'smtpd',
     'options': {'syslog_name': '%s/submission' % NAME, 'smtpd_tls_security_level': 'none',
                 'smtpd_client_restrictions': 'permit_mynetworks, reject'}},
]
MAPS = [
    {'name': 'transport', 'entries': {'it.test': 'discard:'}},
    {'name': 'sasl_passwd', 'secret': True, 'entries': [['[relay.it.test]:587', 'bench:not-a-real-password']]},
    {'name': 'header_checks', 'type': 'regexp', 'entries': [['/^X-Bench-Drop:/', 'IGNORE']]},
]


def playbook(tasks):
    return [{'name': 'benchmark', 'hosts': 'bench', 'gather_facts': False, 'tasks': tasks}]


def write(directory, name, data):
    path = os.path.join(directory, name)
    with open(path, 'w') as handle:
        json.dump(data, handle)   # JSON is YAML
    return path


def run_playbook(path, inventory, extra_env=None):
    env = dict(os.environ)
    env.update({
        'PATH': VENV_BIN + os.pathsep + env.get('PATH', ''),
        'ANSIBLE_CONFIG': os.path.join(ROOT, 'ansible.cfg'),
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.cache', 'collections'),
        'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json',
    })
    env.update(extra_env or {})
    started = time.perf_counter()
    process = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, path],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit('%s failed:\n%s\n%s' % (path, process.stdout[-4000:], process.stderr[-4000:]))
    report = json.loads(process.stdout[process.stdout.index('{'):])
    return elapsed, report


def task_results(report):
    results = []
    for play in report['plays']:
        for task in play['tasks']:
            for host, result in task['hosts'].items():
                results.append((task['task']['name'], host, result))
    return results


def address_present():
    output = subprocess.run(['ip', '-o', '-4', 'addr', 'show', 'dev', 'lo'], capture_output=True, text=True, check=True).stdout
    return (' %s/32 ' % ADDRESS) in output


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=7)
    parser.add_argument('--goal', type=float, default=1.5)
    options = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('run as root (it creates a Postfix instance)')

    workdir = tempfile.mkdtemp(prefix='postfix-config-bench-')
    inventory = os.path.join(workdir, 'inventory.ini')
    with open(inventory, 'w') as handle:
        handle.write('[bench]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n')
    identity = ('myhostname', 'inet_interfaces', 'smtp_bind_address', 'maillog_file', 'mydestination', 'alias_maps',
                'alias_database')
    setup = write(workdir, 'setup.yml', playbook([{
        'name': 'create the instance', 'mailrelay.smtp.postfix_instance': {
            'name': NAME, 'main_cf': dict((key, MAIN_CF[key]) for key in identity)}}]))
    converge = write(workdir, 'converge.yml', playbook([{
        'name': 'postfix_config', 'mailrelay.smtp.postfix_config': {
            'config_dir': CONFIG_DIR, 'main_cf': MAIN_CF, 'master_cf': MASTER_CF, 'maps': MAPS}}]))
    baseline = write(workdir, 'true.yml', playbook([{
        'name': 'command true', 'ansible.builtin.command': 'true', 'changed_when': False}]))
    remove = write(workdir, 'remove.yml', playbook([{
        'name': 'remove the instance', 'mailrelay.smtp.postfix_instance': {'name': NAME, 'state': 'absent'}}]))

    added = False
    if not address_present():
        subprocess.run(['ip', 'addr', 'add', ADDRESS + '/32', 'dev', 'lo'], check=True)
        added = True
    failures = []
    try:
        assert len(MAIN_CF) == 40 and len(MASTER_CF) == 5 and len(MAPS) == 3
        run_playbook(setup, inventory)
        run_playbook(converge, inventory)
        noop_times, true_times = [], []
        for _run in range(options.runs):
            elapsed, report = run_playbook(converge, inventory)
            noop_times.append(elapsed)
            results = task_results(report)
            if len(results) != 1:
                failures.append('the no-op run executed %d tasks, not one module call' % len(results))
            for name, _host, result in results:
                if result.get('changed'):
                    failures.append('the no-op run reported a change: %s' % json.dumps(result)[:400])
                if result.get('validated'):
                    failures.append('the no-op run validated (ran Postfix commands) although nothing changed')
            elapsed, _report = run_playbook(baseline, inventory)
            true_times.append(elapsed)
    finally:
        try:
            run_playbook(remove, inventory)
        finally:
            if added:
                subprocess.run(['ip', 'addr', 'del', ADDRESS + '/32', 'dev', 'lo'], check=False)
            for leftover in ('/var/log/%s.log' % NAME,):
                if os.path.exists(leftover):
                    os.unlink(leftover)

    noop = statistics.median(noop_times)
    true = statistics.median(true_times)
    ratio = noop / true
    print('no-op postfix_config run (40 parameters, 5 services, 3 maps): median %.3f s  (%s)'
          % (noop, ' '.join('%.2f' % t for t in noop_times)))
    print('single "command: true" run:                                   median %.3f s  (%s)'
          % (true, ' '.join('%.2f' % t for t in true_times)))
    print('ratio %.2f (goal <= %.2f): %s' % (ratio, options.goal, 'met' if ratio <= options.goal else 'MISSED'))
    for failure in sorted(set(failures)):
        print('FAILED: ' + failure)
    return 0 if ratio <= options.goal and not failures else 1


if __name__ == '__main__':
    sys.exit(main())
