# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_instance argument handling and check mode (the lifecycle runs in the integration targets)."""
from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailrelay.smtp.plugins.modules import postfix_instance


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            postfix_instance.main()
    output = capsys.readouterr().out
    return info.value.code, json.loads(output), output


@pytest.mark.parametrize('name', ['relay', 'postfix-', 'postfix-a b'])
def test_bad_name(capsys, name):
    code, result, _raw = run_module(dict(name=name), capsys)
    assert code == 1 and result['msg'].startswith('name:')


def test_primary_cannot_be_removed(capsys):
    code, result, _raw = run_module(dict(name='postfix', state='absent'), capsys)
    assert code == 1 and 'primary instance cannot be removed' in result['msg']


def test_check_mode_for_a_new_instance_creates_nothing(capsys):
    name = 'postfix-ut-never-created'
    args = dict(name=name, main_cf=dict(myhostname='x.example'),
                maps=[dict(name='sasl_passwd', secret=True, entries={'[r]:587': 'u:Secret-never-shown'})],
                _ansible_check_mode=True, _ansible_diff=True)
    code, result, raw = run_module(args, capsys)
    assert code == 0 and result['changed'] and result['created']
    assert result['config_dir'] == '/etc/' + name
    assert result['service_action'] == 'started'
    assert '%s: present' % name in result['diff'][0]['after']
    assert not os.path.exists('/etc/' + name)
    assert 'Secret-never-shown' not in raw


def test_check_mode_removal_of_a_missing_instance_is_no_change(capsys):
    code, result, _raw = run_module(dict(name='postfix-ut-never-created', state='absent', _ansible_check_mode=True), capsys)
    assert code == 0 and not result['changed'] and not result['removed']


@pytest.mark.parametrize('main_cf, option', [
    ({'relayhost': '[relay.example]:587\nsmtp_sasl_auth_enable = no'}, 'main_cf.relayhost'),
    ({'myhostname': 'x.example\r'}, 'main_cf.myhostname'),
    ({'mydomain': 'exa\x00mple'}, 'main_cf.mydomain'),
])
def test_a_line_break_in_a_value_is_refused_before_anything(capsys, main_cf, option):
    # In check mode: a unit test never creates an instance; the refusal comes before check mode matters.
    name = 'postfix-ut-never-created'
    code, result, raw = run_module(dict(name=name, main_cf=main_cf, _ansible_check_mode=True), capsys)
    assert code == 1 and option in result['msg'] and 'one line' in result['msg']
    assert 'Traceback' not in raw
    assert not os.path.exists('/etc/' + name)


@pytest.mark.parametrize('servers, field', [(['198.51.100.53', 'ns.example'], 'dns_servers[1]:'),
                                            (['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'], 'dns_servers:')])
def test_bad_dns_servers_are_refused_before_anything_is_looked_at(capsys, servers, field):
    code, result, _raw = run_module(dict(name='postfix-ut-never-created', dns_servers=servers, _ansible_check_mode=True), capsys)
    assert code == 1 and result['msg'].startswith(field)
    assert not os.path.exists('/etc/postfix-ut-never-created')
