# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine: pure planning first, then real convergence of a scratch directory.

The second half runs the real postconf, postmap and postfix commands on a
configuration directory under pytest's tmp_path (it needs Postfix and root,
and is skipped otherwise); nothing outside tmp_path is configured.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import PostfixConfigError
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_engine import (
    ConfigRequest,
    CurrentState,
    FileState,
    ValidationFailed,
    converge,
    plan_changes,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_engine as engine
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import LocalHost, NoTerminal
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_maps import HEADER, MASK

MASTER = 'smtp      inet  n       -       y       -       -       smtpd\n'


def state(main='', master=MASTER, maps=()):
    return CurrentState(FileState(main, 0o644, 0, 0, 1), FileState(master, 0o644, 0, 0, 1), list(maps))


def request(**values):
    values.setdefault('config_dir', '/etc/postfix-x')
    req = ConfigRequest(**values)
    for item in req.maps:
        item.uid, item.gid = 0, 0
    return req


def test_no_op_plan():
    req = request(main_cf={'myhostname': 'a.example'}, master_cf=[], maps=[])
    plan = plan_changes(req, state('myhostname = a.example\n'))
    assert not plan.changed and not plan.needs_stage
    assert plan.diff() == []


def test_hand_edit_is_drift():
    req = request(main_cf={'myhostname': 'a.example'})
    plan = plan_changes(req, state('myhostname = edited.example\n'))
    assert plan.changed and plan.main_changes.changed == ['myhostname']
    assert plan.diff()[0]['before'] == 'myhostname = edited.example\n'
    assert plan.diff()[0]['after'] == 'myhostname = a.example\n'
    assert plan.reload_needed and not plan.restart_needed


def test_restart_parameters():
    req = request(main_cf={'inet_interfaces': '127.0.2.1', 'myhostname': 'x'})
    plan = plan_changes(req, state('inet_interfaces = all\nmyhostname = y\n'))
    assert plan.restart_parameters == ['inet_interfaces'] and plan.restart_needed


def map_state(text, source_mtime=100, db_mtime=200, mode=0o644, db=True):
    source = FileState(text, mode if text is not None else None, 0, 0, source_mtime if text is not None else None)
    databases = [FileState(None, mode, 0, 0, db_mtime)] if db else [FileState()]
    return source, databases


def test_maps_postmap_only_when_needed():
    entries = {'example.com': 'smtp:[hub]'}
    text = HEADER + 'example.com smtp:[hub]\n'
    req = request(maps=[{'name': 'transport', 'entries': entries}])
    assert not plan_changes(req, state(maps=[map_state(text)])).changed
    stale = plan_changes(req, state(maps=[map_state(text, source_mtime=300)])).maps[0]
    assert (stale.write, stale.rebuild) == (False, True)
    missing_db = plan_changes(req, state(maps=[map_state(text, db=False)])).maps[0]
    assert (missing_db.write, missing_db.rebuild) == (False, True)
    edited = plan_changes(req, state(maps=[map_state(text + 'added.by hand\n')]))
    assert edited.maps[0].write and edited.maps[0].rebuild
    assert not edited.reload_needed        # daemons reopen a changed hash table by themselves
    wrong_mode = plan_changes(req, state(maps=[map_state(text, mode=0o666)]))
    assert wrong_mode.maps[0].attributes and not wrong_mode.needs_stage
    assert wrong_mode.summary()['maps']['attributes'] == ['/etc/postfix-x/transport']


def test_pattern_map_change_needs_reload():
    req = request(maps=[{'name': 'checks', 'type': 'pcre', 'entries': [['/x/', 'REJECT']]}])
    plan = plan_changes(req, state(maps=[(FileState(), [])]))
    assert plan.maps[0].write and not plan.maps[0].rebuild and plan.reload_needed


def test_absent_map_removes_existing_files_only():
    req = request(maps=[{'name': 'old', 'state': 'absent'}])
    plan = plan_changes(req, state(maps=[(FileState('x', 0o644, 0, 0, 1), [FileState()])]))
    assert plan.maps[0].remove == ['/etc/postfix-x/old']
    assert not plan_changes(req, state(maps=[(FileState(), [FileState()])])).changed


def test_secret_diff_is_masked():
    req = request(maps=[{'name': 'sasl_passwd', 'secret': True, 'entries': [['[relay]:587', 'user:newpw']]}])
    plan = plan_changes(req, state(maps=[map_state(HEADER + '[relay]:587 user:oldpw\n', mode=0o600)]))
    diff = plan.diff()[0]
    assert 'oldpw' not in str(diff) and 'newpw' not in str(diff)
    assert diff['after'].endswith('[relay]:587 %s (changed)\n' % MASK)
    assert req.secrets() == ['user:newpw']


def test_request_validation_names_the_option():
    with pytest.raises(PostfixConfigError) as info:
        request(config_dir='relative')
    assert info.value.option == 'config_dir'
    with pytest.raises(PostfixConfigError) as info:
        request(main_cf_mode='exclusive')
    assert info.value.option == 'main_cf_mode'
    with pytest.raises(PostfixConfigError) as info:
        request(maps=[{'name': 'a'}, {'name': 'a', 'entries': {}}])
    assert 'maps[0]' in str(info.value) or 'maps[1]' in str(info.value)
    with pytest.raises(PostfixConfigError) as info:
        request(maps=[{'name': '../escape', 'entries': {}}])
    assert 'maps[0]' in str(info.value)
    with pytest.raises(PostfixConfigError) as info:
        request(maps=[{'name': 'pw', 'secret': True, 'mode': '0640', 'entries': {}}])
    assert 'mode' in str(info.value)
    with pytest.raises(PostfixConfigError):
        request(main_cf={'ok': {'a': 'dict'}})


def test_extra_parameters_of_the_caller_conflict_with_user_values():
    with pytest.raises(PostfixConfigError) as info:
        ConfigRequest.from_params({'config_dir': '/e', 'main_cf': {'multi_instance_enable': 'no'}},
                                  extra_main_cf={'multi_instance_enable': 'yes'})
    assert info.value.option == 'main_cf.multi_instance_enable'
    req = ConfigRequest.from_params({'config_dir': '/e', 'main_cf': None}, extra_main_cf={'multi_instance_group': 'g'})
    assert req.main_cf == {'multi_instance_group': 'g'}


# ---------------------------------------------------------------------------
# Real convergence of a scratch configuration directory
# ---------------------------------------------------------------------------

needs_postfix = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which('postconf', path='/usr/sbin:/usr/bin') or not os.path.exists('/etc/postfix/master.cf'),
    reason='needs root and an installed Postfix')


def run_command(argv, data=None):
    process = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    return process.returncode, process.stdout, process.stderr


class CountingHost(LocalHost):
    def __init__(self):
        super().__init__(run_command)
        self.commands = []

    def run(self, argv, data=None):
        self.commands.append(argv)
        return super().run(argv, data)

    def run_tty(self, argv, timeout=120):
        self.commands.append(argv)
        return super().run_tty(argv, timeout)


def checksums(directory):
    result = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, 'rb') as handle:
                result[name] = (hashlib.sha256(handle.read()).hexdigest(), oct(os.stat(path).st_mode & 0o7777))
    return result


@pytest.fixture
def config_dir(tmp_path):
    directory = tmp_path / 'postfix-scratch'
    directory.mkdir()
    shutil.copy('/etc/postfix/master.cf', str(directory / 'master.cf'))
    (directory / 'main.cf').write_text('# scratch\ncompatibility_level = 3.6\n')
    return str(directory)


def scratch_request(config_dir, **extra):
    values = dict(
        config_dir=config_dir,
        main_cf={
            'myhostname': 'scratch.example',
            'inet_interfaces': 'loopback-only',
            'transport_maps': 'hash:%s/transport' % config_dir,
            'smtp_sasl_password_maps': 'hash:%s/sasl_passwd' % config_dir,
            'header_checks': 'regexp:%s/header_checks' % config_dir,
            'alias_maps': '',
        },
        master_cf=[{'service': 'submission', 'type': 'inet', 'private': 'n', 'chroot': 'n', 'command': 'smtpd',
                    'options': {'syslog_name': 'postfix/submission', 'smtpd_client_restrictions': 'permit_sasl_authenticated, reject'}}],
        maps=[
            {'name': 'transport', 'entries': {'example.com': 'smtp:[127.0.0.1]'}},
            {'name': 'sasl_passwd', 'secret': True, 'entries': [['[relay.example]:587', 'user:Sup3rSecret']]},
            {'name': 'header_checks', 'type': 'regexp', 'entries': [['/^X-Drop:/', 'IGNORE']]},
        ],
    )
    values.update(extra)
    return ConfigRequest.from_params(values)


@needs_postfix
def test_converge_then_no_op_without_any_process(config_dir):
    host = CountingHost()
    _plan, result = converge(host, scratch_request(config_dir), want_diff=True)
    assert result['changed'] and result['validated']
    assert result['maps']['postmapped'] == [config_dir + '/transport', config_dir + '/sasl_passwd']
    assert any(argv[1:] == ['-c', argv[2], 'check'] for argv in host.commands)
    assert 'Sup3rSecret' not in str(result['diff'])
    sums = checksums(config_dir)
    assert sums['sasl_passwd'][1] == sums['sasl_passwd.db'][1] == '0o600'
    assert sums['transport.db'][1] == '0o644'
    assert not any(name.startswith('.mailrelay-stage') for name in os.listdir(config_dir))

    host = CountingHost()
    _plan, result = converge(host, scratch_request(config_dir))
    assert not result['changed']
    assert host.commands == []
    assert checksums(config_dir) == sums


@needs_postfix
def test_check_mode_reports_drift_and_writes_nothing(config_dir):
    converge(CountingHost(), scratch_request(config_dir))
    with open(os.path.join(config_dir, 'main.cf'), 'a') as handle:
        handle.write('myhostname = edited.example\n')
    with open(os.path.join(config_dir, 'transport'), 'a') as handle:
        handle.write('hand.example smtp:[10.9.9.9]\n')
    sums = checksums(config_dir)
    _plan, result = converge(CountingHost(), scratch_request(config_dir), check_mode=True, want_diff=True)
    assert result['changed']
    assert result['main_cf'] == {'added': [], 'changed': ['myhostname'], 'removed': []}
    assert result['maps']['written'] == [config_dir + '/transport']
    assert checksums(config_dir) == sums
    _plan, result = converge(CountingHost(), scratch_request(config_dir))
    assert result['changed']
    _plan, result = converge(CountingHost(), scratch_request(config_dir), check_mode=True)
    assert not result['changed']


@needs_postfix
@pytest.mark.parametrize('change, reason', [
    ({'main_cf': {'smtpd_recipient_restrictions': 'check_recipient_access hash:/nonexistent/table, reject'}},
     'smtpd_recipient_restrictions: table hash:/nonexistent/table is missing'),
    ({'main_cf': {'inet_interfaces': '127.0.2.254'}}, 'inet_interfaces: address 127.0.2.254 is not assigned'),
    ({'main_cf': {'smtpd_tls_sequrity_level': 'may'}}, 'unused parameter: smtpd_tls_sequrity_level=may'),
    ({'main_cf': {'maillog_file': '/tmp/x.log'}}, 'outside maillog_file_prefixes'),
    ({'master_cf': [{'service': 'broken', 'type': 'unix', 'command': 'no-such-daemon'}]}, 'command no-such-daemon not found'),
    ({'maps': [{'name': 'dup', 'entries': [['k', 'a'], ['k', 'b']]}]}, 'duplicate entry'),
    ({'maps': [{'name': 're', 'type': 'regexp', 'entries': [['/unclosed(/', 'REJECT']]}]}, 'postmap refused the table'),
])
def test_refused_configuration_leaves_files_byte_identical(config_dir, change, reason):
    converge(CountingHost(), scratch_request(config_dir))
    sums = checksums(config_dir)
    base = scratch_request(config_dir)
    values = dict(config_dir=config_dir, main_cf=dict(base.main_cf), maps=[
        {'name': 'transport', 'entries': {'example.com': 'smtp:[127.0.0.1]'}},
        {'name': 'sasl_passwd', 'secret': True, 'entries': [['[relay.example]:587', 'user:Sup3rSecret']]},
        {'name': 'header_checks', 'type': 'regexp', 'entries': [['/^X-Drop:/', 'IGNORE']]}])
    for key, value in change.items():
        if key == 'main_cf':
            values['main_cf'].update(value)
        elif key == 'maps':
            values['maps'] = values['maps'] + value
        else:
            values[key] = value
    with pytest.raises(ValidationFailed) as info:
        converge(CountingHost(), ConfigRequest.from_params(values))
    assert reason in str(info.value), info.value.problems
    assert checksums(config_dir) == sums
    assert not any(name.startswith('.mailrelay-stage') for name in os.listdir(config_dir))


@needs_postfix
def test_postfix_check_message_is_surfaced(config_dir):
    # A parameter that only `postfix check` trips over: a queue directory that cannot be created.
    values = dict(config_dir=config_dir, main_cf={'queue_directory': '/proc/not-here'})
    with pytest.raises(ValidationFailed) as info:
        converge(CountingHost(), ConfigRequest.from_params(values))
    assert 'postfix check failed' in str(info.value)
    assert 'exit status' not in str(info.value) or '/proc/not-here' in str(info.value)


class NoTerminalHost(CountingHost):
    """A host like a minimal container: no devpts, so no pseudo-terminal (as pty.openpty() fails there)."""

    def run_tty(self, argv, timeout=120):
        self.commands.append(argv)
        raise NoTerminal('cannot open a pseudo-terminal: out of pty devices')


@needs_postfix
def test_postfix_check_without_a_terminal_reads_its_diagnostics_from_the_log(config_dir):
    values = dict(config_dir=config_dir, main_cf={'queue_directory': '/proc/not-here'})
    host = NoTerminalHost()
    with pytest.raises(ValidationFailed) as info:
        converge(host, ConfigRequest.from_params(values))
    message = str(info.value)
    assert 'postfix check failed' in message and '/proc/not-here' in message and 'fatal:' in message, message
    assert 'no message' not in message
    # it ran without a terminal, and the live configuration stayed as it was
    assert any(argv[-1] == 'check' for argv in host.commands)
    assert open(os.path.join(config_dir, 'main.cf')).read() == '# scratch\ncompatibility_level = 3.6\n'


@needs_postfix
def test_postfix_check_without_a_terminal_passes_a_good_configuration(config_dir):
    _plan, result = converge(NoTerminalHost(), scratch_request(config_dir))
    assert result['changed'] and result['validated']


_REAL_NO_PTY = """
import subprocess, sys
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_engine import ConfigRequest, ValidationFailed, converge
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import LocalHost
def run_command(argv, data=None):
    done = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr
try:
    converge(LocalHost(run_command), ConfigRequest.from_params(dict(config_dir=sys.argv[1], main_cf={'queue_directory': '/proc/not-here'})))
    print('accepted')
except ValidationFailed as exc:
    print(exc)
"""


@needs_postfix
@pytest.mark.skipif(not shutil.which('unshare'), reason='needs unshare')
def test_postfix_check_where_the_kernel_gives_no_pseudo_terminal(config_dir):
    """The real LocalHost in a mount namespace whose /dev/ptmx is /dev/null: pty.openpty() fails as in a minimal container."""
    script = 'mount --bind /dev/null /dev/ptmx && exec "$0" -c "$1" "$2"'
    done = subprocess.run(['unshare', '-m', 'sh', '-c', script, sys.executable, _REAL_NO_PTY, config_dir],
                          capture_output=True, text=True, check=False, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    if done.returncode != 0 and done.stderr.startswith(('unshare:', 'mount:')):
        # a chroot or a container without CAP_SYS_ADMIN
        pytest.skip('cannot make a mount namespace here: %s' % done.stderr.strip())
    assert done.returncode == 0, done.stderr
    assert 'postfix check failed' in done.stdout and 'chdir(/proc/not-here)' in done.stdout, done.stdout


class _LoggingStage:
    """What _check_without_terminal reads of a stage."""

    class plan:
        main_before = 'maillog_file = /live/postfix-it.log\n'

    def __init__(self, path):
        self.path = path
        self.main_text = 'maillog_file = /live/postfix-it.log\nmyhostname = it.example\n'

    @staticmethod
    def live(text):
        return text


def test_without_a_terminal_the_running_instances_log_is_read_too(tmp_path):
    """A running instance's postlogd takes the check's log records: its maillog_file has them."""
    live_log = tmp_path / 'postfix-it.log'
    live_log.write_text('Dec 05 09:00:00 vm postfix-it/smtpd[7]: warning: before the check\n')

    class Host(LocalHost):
        def __init__(self):
            super().__init__(None)
            self.argv = None

        def run(self, argv, data=None, env=None):
            self.argv = argv
            with open(str(live_log), 'a') as handle:
                handle.write('Dec 05 09:00:01 vm postfix-it/smtpd[7]: warning: a daemon, not the check\n'
                             'Dec 05 09:00:01 vm postfix-it/postfix-script[42]: fatal: the check failed here\n')
            return 1, '', ''

    stage = _LoggingStage(str(tmp_path / 'stage'))
    stage.plan.main_before = 'maillog_file = %s\n' % live_log
    check_dir = os.path.join(stage.path, 'check')
    os.makedirs(check_dir)
    (tmp_path / 'stage' / 'check' / 'main.cf').write_text(stage.main_text)
    host = Host()
    rc, output = engine._check_without_terminal(host, stage, check_dir, ['postfix', '-c', check_dir, 'check'])
    assert rc == 1
    assert 'fatal: the check failed here' in output
    assert 'a daemon, not the check' not in output and 'before the check' not in output
    # the copy logs to a file of its own, which maillog_file_prefixes allows
    copy = open(os.path.join(check_dir, 'main.cf')).read()
    assert 'maillog_file = %s/postfix-check.log' % check_dir in copy
    assert 'maillog_file_prefixes = %s' % check_dir in copy


@needs_postfix
def test_removed_map_still_referenced_is_refused_then_removed(config_dir):
    converge(CountingHost(), scratch_request(config_dir))
    values = dict(config_dir=config_dir, maps=[{'name': 'transport', 'state': 'absent'}])
    with pytest.raises(ValidationFailed) as info:
        converge(CountingHost(), ConfigRequest.from_params(values))
    assert 'transport_maps: table hash:%s/transport is missing' % config_dir in str(info.value)
    values['main_cf'] = {'transport_maps': None}
    _plan, result = converge(CountingHost(), ConfigRequest.from_params(values))
    assert result['maps']['removed'] == [config_dir + '/transport']
    assert not os.path.exists(config_dir + '/transport.db')


@needs_postfix
def test_validate_false_still_builds_the_databases(config_dir):
    values = dict(config_dir=config_dir, validate=False, main_cf={'transport_maps': 'hash:%s/transport' % config_dir},
                  maps=[{'name': 'transport', 'entries': {'example.com': 'smtp:[127.0.0.1]'}}])
    host = CountingHost()
    _plan, result = converge(host, ConfigRequest.from_params(values))
    assert result['changed'] and not result['validated']
    assert [argv[0].rsplit('/', 1)[-1] for argv in host.commands] == ['postmap']
    assert os.path.exists(config_dir + '/transport.db')


@needs_postfix
def test_a_failing_commit_puts_the_previous_files_back(config_dir):
    converge(CountingHost(), scratch_request(config_dir))
    sums = checksums(config_dir)

    class BrokenRename(CountingHost):
        def replace(self, src, dst):
            if dst.endswith('/main.cf') and '/backup/' not in src:
                raise OSError('simulated failure while replacing main.cf')
            return super().replace(src, dst)

    request = scratch_request(config_dir)
    request.main_cf['myhostname'] = 'changed.example'
    request.maps[0].text += 'more.example smtp:[127.0.0.2]\n'
    with pytest.raises(OSError):
        converge(BrokenRename(), request)
    assert checksums(config_dir) == sums
    assert not any(name.startswith('.mailrelay-stage') for name in os.listdir(config_dir))


def test_database_drift_is_found_by_content_and_needs_a_reload():
    text = HEADER + 'example.com smtp:[hub]\n'
    req = request(maps=[{'name': 'transport', 'entries': {'example.com': 'smtp:[hub]'}}])
    source, databases = map_state(text, source_mtime=300, db_mtime=200)
    databases[0].digest = 'aaaa'
    # The database is older than its source but is what was built from it: no change.
    same = plan_changes(req, CurrentState(FileState(''), FileState(MASTER), [(source, databases)],
                                          {'/etc/postfix-x/transport.db': 'aaaa'}))
    assert not same.changed
    # Replaced behind the unchanged source (a newer file, other bytes): rebuilt, and reloaded.
    databases[0].digest = 'bbbb'
    replaced = plan_changes(req, CurrentState(FileState(''), FileState(MASTER), [(source, databases)],
                                              {'/etc/postfix-x/transport.db': 'aaaa'}))
    assert replaced.maps[0].rebuild and replaced.maps[0].drift and not replaced.maps[0].write
    assert replaced.reload_needed and replaced.summary()['maps']['postmapped'] == ['/etc/postfix-x/transport']
    # Deleted: rebuilt and reloaded as well.
    deleted = plan_changes(req, state(maps=[map_state(text, db=False)]))
    assert deleted.maps[0].drift and deleted.reload_needed


def test_listeners_mode_removes_undeclared_inet_services_only():
    current = MASTER + '2525      inet  n       -       n       -       -       smtpd\npickup    unix  n       -       y       60      1       pickup\n'
    req = request(master_cf=[{'service': '2526', 'type': 'inet', 'command': 'smtpd', 'private': 'n', 'chroot': 'n'}],
                  master_cf_mode='listeners')
    plan = plan_changes(req, CurrentState(FileState(''), FileState(current), []))
    assert sorted(plan.master_changes.as_dict()['removed']) == ['2525/inet', 'smtp/inet']
    assert plan.master_changes.as_dict()['added'] == ['2526/inet']
    assert 'pickup    unix' in plan.master_after
