# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_instances: all instances in one call, nothing touched when one is refused."""
from __future__ import annotations

import json
import os
import shutil

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailrelay.smtp.plugins.module_utils import _dkim, _dkim_host
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_engine import ValidationFailed
from ansible_collections.mailrelay.smtp.plugins.modules import opendkim, postfix_instances


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            postfix_instances.main()
    output = capsys.readouterr().out
    return info.value.code, json.loads(output), output


class Recorder:
    """Stands in for the per-instance convergence; records (name, check_mode)."""

    def __init__(self, changed=(), refuse=()):
        self.calls = []
        self.changed = set(changed)
        self.refuse = set(refuse)

    def __call__(self, params, host, check_mode=False, diff=False):
        self.calls.append((params['name'], check_mode))
        if params['name'] in self.refuse:
            raise ValidationFailed(['main_cf.inet_interfaces: address 192.0.2.99 is not assigned to a local interface'])
        changed = params['name'] in self.changed
        result = dict(name=params['name'], changed=changed, reload_needed=changed and not check_mode,
                      restart_needed=False, service_state=params['service_state'])
        if diff and changed:
            result['diff'] = [dict(before_header='main.cf', after_header='main.cf', before='a\n', after='b\n')]
        return result


@pytest.fixture
def recorder(monkeypatch):
    def install(**kwargs):
        fake = Recorder(**kwargs)
        monkeypatch.setattr(postfix_instances, 'run', fake)
        return fake
    return install


def test_only_changed_instances_are_converged_for_real(capsys, recorder):
    fake = recorder(changed={'postfix-hub'})
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub'), dict(name='postfix-edge')]), capsys)
    assert code == 0 and result['changed'] is True
    assert fake.calls == [('postfix-hub', True), ('postfix-edge', True), ('postfix-hub', False)]
    assert [item['name'] for item in result['instances']] == ['postfix-hub', 'postfix-edge']
    assert result['reload_needed'] == ['postfix-hub'] and result['missing_packages'] == []


def test_a_refused_instance_stops_everything_before_any_change(capsys, recorder):
    fake = recorder(changed={'postfix-hub', 'postfix-edge'}, refuse={'postfix-edge'})
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub'), dict(name='postfix-edge')]), capsys)
    assert code == 1
    assert 'postfix-edge was refused; no instance was changed' in result['msg']
    assert all(check_mode for dummy, check_mode in fake.calls)


def test_check_mode_never_converges_for_real(capsys, recorder):
    fake = recorder(changed={'postfix-hub'})
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub')], _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert code == 0 and result['changed'] is True
    # Kept for site.yml's preflight, whose changed_when hides `changed` from the recap.
    assert result['plan_changed'] is True
    assert fake.calls == [('postfix-hub', True)]
    assert result['diff'][0]['before_header'] == 'postfix-hub: main.cf'


def test_defaults_apply_unless_an_instance_sets_its_own(capsys, recorder):
    recorder()
    args = dict(instances=[dict(name='postfix-a'), dict(name='postfix-b', service_state='stopped')], defaults=dict(service_state='unmanaged'))
    code, result, dummy = run_module(args, capsys)
    assert [item['service_state'] for item in result['instances']] == ['unmanaged', 'stopped']


@pytest.mark.parametrize('instances,message', [
    (['postfix-a'], "Elements value for option 'instances' is of type str"),
    ([dict(state='present')], 'instances[0] (?): missing required arguments: name'),
    ([dict(name='relay')], 'instances[0]: name:'),
    ([dict(name='postfix-a'), dict(name='postfix-a')], 'instances[1]: postfix-a is listed twice'),
    ([dict(name='postfix-a', main_cf_mode='replace')], 'instances[0] (postfix-a): value of main_cf_mode must be one of'),
    ([dict(name='postfix-a', colour='blue')], 'instances[0] (postfix-a): unsupported parameters: colour. Supported parameters include: '),
    ([dict(name='postfix-a', main_cf={'relayhost': '[hub]\nx'})], 'instances[0] (postfix-a): main_cf.relayhost: must be one line'),
    ([dict(name='postfix-a', master_cf=[dict(service='2525', type='inet', command='smtpd', options=dict(syslog_name='a\rb'))])],
     'instances[0] (postfix-a): master_cf[0] (2525/inet) options.syslog_name: must be one line'),
    ([dict(name='postfix-a', maps=[dict(name='transport', entries={'example.org': 'smtp:[hub]\x00'})])],
     'instances[0] (postfix-a): maps[0] (transport) entries[example.org]'),
])
def test_bad_items_are_named(capsys, recorder, instances, message):
    fake = recorder()
    code, result, dummy = run_module(dict(instances=instances), capsys)
    assert code == 1 and message in result['msg']
    assert fake.calls == []


def test_secret_values_never_reach_the_output(capsys, recorder):
    recorder()
    secret_map = dict(name='sasl_passwd', secret=True, entries={'[relay.example]:587': 'acct:Never-Shown-7'})
    code, dummy, raw = run_module(dict(instances=[dict(name='postfix-a', main_cf_mode='bad', maps=[secret_map])]), capsys)
    assert code == 1 and 'Never-Shown-7' not in raw


def test_missing_packages_stop_before_anything(capsys, recorder, monkeypatch):
    fake = recorder(changed={'postfix-a'})
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, *a, **kw: '/usr/bin/' + name)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command',
                        lambda self, argv, **kw: (1, 'ii  postfix\nun  postfix-pcre\n', 'dpkg-query: no packages found matching postfix-lmdb'))
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-a')], packages=['postfix', 'postfix-pcre', 'postfix-lmdb']), capsys)
    assert code == 0 and result['changed'] is False and result['plan_changed'] is False
    assert result['missing_packages'] == ['postfix-pcre', 'postfix-lmdb']
    assert fake.calls == []


def test_packages_need_dpkg(capsys, recorder, monkeypatch):
    recorder()
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, *a, **kw: None)
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-a')], packages=['postfix']), capsys)
    assert code == 1 and result['msg'].startswith('packages: dpkg-query not found')


# -- one transaction with the Dovecot users ---------------------------------------------

class FakeSasl:
    """Stands in for _dovecot_sasl's converge/snapshot/restore (the real ones are tested on their own)."""

    def __init__(self, changed=True):
        self.events = []
        self.changed = changed

    def converge(self, host, params, check_mode=False, passwords=None):
        self.events.append(('converge', params['name'], check_mode, [user['login'] for user in params['users']]))
        return dict(changed=self.changed, users_changed=['alice@example.org'] if self.changed else [],
                    diff=[dict(before_header='users', after_header='users', before='a\n', after='b\n')])

    def snapshot(self, host, params):
        self.events.append(('snapshot', params['name']))
        return {'name': params['name']}

    def restore(self, host, saved):
        self.events.append(('restore', saved['name']))
        return ['put back /etc/dovecot/mailrelay/%s.users' % saved['name']]


@pytest.fixture
def fake_sasl(monkeypatch):
    fake = FakeSasl()
    for name in ('converge', 'snapshot', 'restore'):
        monkeypatch.setattr(postfix_instances.sasl, name, getattr(fake, name))
    return fake


SUBMISSION = dict(name='postfix-submission',
                  dovecot_sasl=dict(users=[dict(login='alice@example.org', password='Pw-unit-secret-1')], hash_iterations=5000))


class FailingRecorder(Recorder):
    """Plans fine, then the real run of one instance fails its health check."""

    def __call__(self, params, host, check_mode=False, diff=False):
        if not check_mode and params['name'] == 'postfix-submission':
            self.calls.append((params['name'], check_mode))
            from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_health import ServiceFailed
            raise ServiceFailed('postfix-submission: the new configuration does not serve: smtpd_sasl_path ... Rolled back: ...')
        return super().__call__(params, host, check_mode, diff)


def test_dovecot_is_applied_before_postfix_and_put_back_when_postfix_fails(capsys, monkeypatch, fake_sasl):
    fake = FailingRecorder(changed={'postfix-submission'})
    monkeypatch.setattr(postfix_instances, 'run', fake)
    code, result, output = run_module(dict(instances=[SUBMISSION]), capsys)
    assert code == 1
    assert fake_sasl.events == [
        ('converge', 'postfix-submission', True, ['alice@example.org']),
        ('snapshot', 'postfix-submission'),
        ('converge', 'postfix-submission', False, ['alice@example.org']),
        ('restore', 'postfix-submission'),
    ]
    assert 'dovecot-postfix-submission (put back /etc/dovecot/mailrelay/postfix-submission.users)' in result['msg']
    assert 'Pw-unit-secret-1' not in output


def test_a_refused_postfix_change_never_writes_the_users(capsys, recorder, fake_sasl):
    recorder(changed={'postfix-submission'}, refuse={'postfix-submission'})
    code, result, dummy = run_module(dict(instances=[SUBMISSION]), capsys)
    assert code == 1
    assert [event[0] for event in fake_sasl.events] == []   # refused in pass 1, before Dovecot was even planned


def test_users_only_change_is_reported_and_shown_masked(capsys, recorder, fake_sasl):
    recorder()
    code, result, output = run_module(dict(instances=[SUBMISSION], _ansible_diff=True), capsys)
    assert code == 0 and result['changed'] is True
    assert result['dovecot_sasl'][0]['name'] == 'postfix-submission'
    assert result['diff'][0]['before_header'] == 'dovecot-postfix-submission: users'
    assert 'Pw-unit-secret-1' not in output


@pytest.mark.parametrize('dovecot, message', [
    ('yes', r'instances\[0\]\.dovecot_sasl \(postfix-submission\): must be a dictionary'),
    (dict(users=[dict(login='bad login', password='x')]), r'instances\[0\]\.dovecot_sasl\.users\[0\]\.login'),
    (dict(users=[dict(login='a@example.org', password='x')], hash_iterations=10), r'instances\[0\]\.dovecot_sasl\.hash_iterations'),
    (dict(users=[dict(login='a@example.org')]), r'instances\[0\]\.dovecot_sasl \(postfix-submission\): .*password'),
    (dict(colour='red'), r'instances\[0\]\.dovecot_sasl \(postfix-submission\): unsupported parameters: colour\. Supported parameters include: '),
])
def test_bad_dovecot_options_are_named(capsys, recorder, fake_sasl, dovecot, message):
    recorder()
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-submission', dovecot_sasl=dovecot)]), capsys)
    assert code == 1
    import re
    assert re.search(message, result['msg']), result['msg']
    assert fake_sasl.events == []


def test_reload_changed_reloads_in_the_call(capsys, recorder, monkeypatch):
    fake = recorder(changed={'postfix-hub'})
    seen = []
    original = fake.__call__

    def spy(params, host, check_mode=False, diff=False):
        seen.append((params['name'], check_mode, params['service_state']))
        result = original(params, host, check_mode, diff)
        # As the real plan says of a running instance whose files change.
        result['reload_needed'] = check_mode and result['changed']
        return result

    monkeypatch.setattr(postfix_instances, 'run', spy)
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub')], reload_changed=True), capsys)
    assert code == 0
    assert seen == [('postfix-hub', True, 'started'), ('postfix-hub', False, 'reloaded')]


def test_record_retires_what_the_description_dropped_and_is_rewritten(capsys, recorder, tmp_path):
    fake = recorder()
    record = tmp_path / 'site-lab.json'
    record.write_text('{"instances": ["postfix-hub", "postfix-old"]}\n')
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub')], record_path=str(record), retire_queued='drop'), capsys)
    assert code == 0 and result['changed'] is True and result['record_changed'] is True
    assert ('postfix-old', True) in fake.calls and ('postfix-old', False) in fake.calls
    assert record.read_text() == '{"instances": ["postfix-hub"]}\n'


def test_record_in_check_mode_plans_but_writes_nothing(capsys, recorder, tmp_path):
    fake = recorder()
    record = tmp_path / 'site-lab.json'
    record.write_text('{"instances": ["postfix-hub", "postfix-old"]}\n')
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub')], record_path=str(record), _ansible_check_mode=True), capsys)
    assert code == 0 and result['changed'] is True
    assert fake.calls == [('postfix-hub', True), ('postfix-old', True)]
    assert record.read_text() == '{"instances": ["postfix-hub", "postfix-old"]}\n'


def test_unchanged_record_is_a_no_op(capsys, recorder, tmp_path):
    recorder()
    record = tmp_path / 'site-lab.json'
    record.write_text('{"instances": ["postfix-hub"]}\n')
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub')], record_path=str(record)), capsys)
    assert code == 0 and result['changed'] is False and result['retired'] == []


def test_check_mode_with_reload_changed_tells_the_reload_the_call_would_do(capsys, monkeypatch, recorder):
    fake = recorder(changed={'postfix-hub'})

    def planned(params, host, check_mode=False, diff=False):
        result = fake(params, host, check_mode, diff)
        result['reload_needed'] = result['changed']   # a running instance whose files would change
        return result

    monkeypatch.setattr(postfix_instances, 'run', planned)
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub')], reload_changed=True,
                                          _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert code == 0 and result['reload_needed'] == []
    assert result['instances'][0]['service_action'] == 'reloaded'
    assert result['diff'][-1]['after'] == 'postfix-hub: running (reloaded)\n'


# opendkim: a DKIM-signing hub's signers are planned with the instances (check mode only), with the
# same plan the opendkim module applies (module_utils/_dkim_host.py).
SIGNER = dict(name='postfix-hub', domains=['example.org'], internal_hosts=['192.0.2.10'],
              keys=[dict(key_selector='s1-hub', algorithm='rsa', active=True)])


@pytest.fixture(name='signers')
def signers_fixture(tmp_path, monkeypatch):
    """The opendkim module converges real files in tmp_path; its processes are replaced by a flag."""
    if not shutil.which('openssl') or not os.path.exists('/usr/sbin/opendkim'):
        pytest.skip('needs openssl and opendkim')
    running = set()
    real_paths = _dkim.paths
    monkeypatch.setattr(_dkim, 'paths', lambda name, config_dir: dict(real_paths(name, config_dir), run_dir=str(tmp_path / 'run')))
    monkeypatch.setattr(opendkim, '_owner', lambda module: (os.getuid(), os.getgid()))
    monkeypatch.setattr(_dkim_host.SignerProcess, 'running', lambda self: self.files['algorithm'] in running)
    monkeypatch.setattr(_dkim_host.SignerProcess, 'unit_text', lambda self: None)
    monkeypatch.setattr(opendkim._Signer, 'start', lambda self: running.add(self.files['algorithm']))
    signer = dict(SIGNER, config_dir=str(tmp_path / 'dkim'))

    def converge(capsys):
        with patch_module_args(signer):
            with pytest.raises(SystemExit):
                opendkim.main()
        return json.loads(capsys.readouterr().out)
    return signer, converge


def test_the_signers_are_planned_with_the_instances_and_nothing_is_written(capsys, recorder, signers, tmp_path):
    signer, converge = signers
    fake = recorder()
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub')], opendkim=signer, _ansible_check_mode=True), capsys)
    assert code == 0 and fake.calls == [('postfix-hub', True)]
    assert result['opendkim'] == dict(changed=True, action='started', generated=['s1-hub'], removed=[], missing_packages=[])
    assert result['changed'] is True and result['plan_changed'] is True
    assert not (tmp_path / 'dkim').exists()
    # Once the opendkim module has applied it, the same preflight plans no change at all.
    assert converge(capsys)['changed'] is True
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub')], opendkim=signer, _ansible_check_mode=True), capsys)
    assert result['opendkim'] == dict(changed=False, action='none', generated=[], removed=[], missing_packages=[])
    assert result['plan_changed'] is False
    # A new selector to publish is a change of the plan, shown in the diff.
    rotated = dict(signer, keys=signer['keys'] + [dict(key_selector='s2-hub', algorithm='rsa')])
    code, result, dummy = run_module(dict(instances=[], opendkim=rotated, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert result['opendkim']['generated'] == ['s2-hub'] and result['plan_changed'] is True
    assert any(item['before_header'].startswith('opendkim-postfix-hub: ') for item in result['diff'])


def test_without_opendkim_the_plan_names_the_package(capsys, recorder, monkeypatch):
    monkeypatch.setattr(_dkim_host, 'OPENDKIM', '/nonexistent/opendkim')
    recorder()
    code, result, dummy = run_module(dict(instances=[], opendkim=SIGNER, _ansible_check_mode=True), capsys)
    assert code == 0 and result['opendkim']['missing_packages'] == ['opendkim'] and result['plan_changed'] is True


@pytest.mark.parametrize('signer, check_mode, message', [
    (SIGNER, False, 'opendkim: only checked, in check mode; mailrelay.smtp.opendkim applies it'),
    (dict(SIGNER, name='Hub'), True, "opendkim.name: 'Hub' must be lower-case letters, digits, '-' and '_'"),
    (dict(SIGNER, domains=[]), True, 'opendkim: domains: at least one domain to sign for is needed'),
])
def test_bad_signer_options_are_refused_before_anything(capsys, recorder, signer, check_mode, message):
    fake = recorder(changed={'postfix-hub'})
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-hub')], opendkim=signer, _ansible_check_mode=check_mode), capsys)
    assert code == 1 and result['msg'] == message and fake.calls == []


@pytest.mark.parametrize('signer, message', [
    (dict(SIGNER, keys=[dict(key_selector='s1-hub', algorithm='dsa')]), 'opendkim: value of algorithm must be one of: rsa, ed25519, got: dsa found in keys'),
    (dict(SIGNER, colour='blue'),
     'opendkim: unsupported parameters: colour. Supported parameters include: address, config_dir, domains, internal_hosts, keys, name, port, prune.'),
    ({key: value for key, value in SIGNER.items() if key != 'keys'}, 'opendkim: keys is required'),
])
def test_the_signer_takes_the_options_of_the_opendkim_module(capsys, recorder, signer, message):
    recorder()
    code, result, dummy = run_module(dict(instances=[], opendkim=signer, _ansible_check_mode=True), capsys)
    assert code == 1 and result['msg'] == message
