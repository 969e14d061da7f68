# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_instances: all instances in one call, nothing touched when one is refused."""
from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_engine import ValidationFailed
from ansible_collections.mailrelay.smtp.plugins.modules import postfix_instances


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
    assert code == 0 and result['changed'] is False
    assert result['missing_packages'] == ['postfix-pcre', 'postfix-lmdb']
    assert fake.calls == []


def test_packages_need_dpkg(capsys, recorder, monkeypatch):
    recorder()
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, *a, **kw: None)
    code, result, dummy = run_module(dict(instances=[dict(name='postfix-a')], packages=['postfix']), capsys)
    assert code == 1 and result['msg'].startswith('packages: dpkg-query not found')
