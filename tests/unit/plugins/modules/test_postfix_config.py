# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_config as Ansible runs it: main() with module arguments, on a scratch directory.

Uses the real postconf/postmap/postfix (needs root and Postfix; skipped otherwise).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailrelay.smtp.plugins.modules import postfix_config

PASSWORD = 'Pw-9f2c-never-shown'

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which('postconf', path='/usr/sbin:/usr/bin') or not os.path.exists('/etc/postfix/master.cf'),
    reason='needs root and an installed Postfix')


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            postfix_config.main()
    output = capsys.readouterr().out
    return info.value.code, json.loads(output), output


@pytest.fixture
def config_dir(tmp_path):
    directory = tmp_path / 'postfix-ut'
    directory.mkdir()
    shutil.copy('/etc/postfix/master.cf', str(directory / 'master.cf'))
    (directory / 'main.cf').write_text('compatibility_level = 3.6\n')
    return str(directory)


def args_for(config_dir, **extra):
    args = dict(
        config_dir=config_dir,
        main_cf=dict(myhostname='ut.example', alias_maps='', inet_interfaces='loopback-only',
                     smtp_sasl_password_maps='hash:%s/sasl_passwd' % config_dir),
        maps=[dict(name='sasl_passwd', secret=True, entries=[['[relay.example]:587', 'user:' + PASSWORD]])],
    )
    args.update(extra)
    return args


def digest(config_dir):
    return dict((name, hashlib.sha256(open(os.path.join(config_dir, name), 'rb').read()).hexdigest())
                for name in sorted(os.listdir(config_dir)))


def test_converge_then_idempotent_and_secret_never_printed(config_dir, capsys):
    code, result, raw = run_module(dict(args_for(config_dir), _ansible_diff=True), capsys)
    assert code == 0 and result['changed']
    assert result['main_cf']['added'] == ['myhostname', 'alias_maps', 'inet_interfaces', 'smtp_sasl_password_maps']
    assert result['maps']['postmapped'] == [config_dir + '/sasl_passwd']
    assert result['reload_needed'] and result['restart_needed'] and result['restart_parameters'] == ['inet_interfaces']
    assert PASSWORD not in raw
    assert '********' in json.dumps(result['diff'])
    assert oct(os.stat(config_dir + '/sasl_passwd.db').st_mode & 0o777) == '0o600'

    code, result, raw = run_module(args_for(config_dir), capsys)
    assert code == 0 and not result['changed'] and not result['reload_needed']
    assert PASSWORD not in raw


def test_check_mode_and_drift(config_dir, capsys):
    run_module(args_for(config_dir), capsys)
    with open(config_dir + '/main.cf', 'a') as handle:
        handle.write('myhostname = drifted.example\n')
    before = digest(config_dir)
    code, result, raw = run_module(dict(args_for(config_dir), _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert code == 0 and result['changed']
    assert result['main_cf'] == {'added': [], 'changed': ['myhostname'], 'removed': []}
    assert 'drifted.example' in result['diff'][0]['before'] and 'drifted.example' not in result['diff'][0]['after']
    assert digest(config_dir) == before


def test_refused_configuration_fails_with_the_reason(config_dir, capsys):
    run_module(args_for(config_dir), capsys)
    before = digest(config_dir)
    args = args_for(config_dir)
    args['main_cf']['smtpd_relay_restrictions'] = 'check_client_access hash:%s/missing, reject' % config_dir
    code, result, raw = run_module(args, capsys)
    assert code == 1 and result['failed']
    assert 'main_cf.smtpd_relay_restrictions: table hash:%s/missing is missing' % config_dir in result['msg']
    assert 'live files and the running service are unchanged' in result['msg']
    assert result['problems']
    assert PASSWORD not in raw
    assert digest(config_dir) == before


@pytest.mark.parametrize('change, option', [
    (dict(main_cf={'bad name': 1}), 'main_cf'),
    (dict(main_cf={'x': {'nested': True}}), 'main_cf.x'),
    (dict(config_dir='/nonexistent/postfix'), 'config_dir'),
    (dict(main_cf_mode='exclusive', main_cf=None), 'main_cf_mode'),
    (dict(maps=[dict(name='sasl_passwd', secret=True, entries=[['two words', 'user:' + PASSWORD]])]), 'maps[0]'),
    # A line break (or NUL) anywhere: refused, the secret still not shown.
    (dict(main_cf={'smtpd_relay_restrictions': 'permit_mynetworks,\nreject_unauth_destination'}), 'main_cf.smtpd_relay_restrictions'),
    (dict(main_cf={'myhostname': 'ut.example\r'}), 'main_cf.myhostname'),
    (dict(maps=[dict(name='sasl_passwd', secret=True, entries=[['[relay.example]:587', 'user:' + PASSWORD + '\n']])]),
     'maps[0] (sasl_passwd) entries[[relay.example]:587]'),
    (dict(master_cf=[dict(service='2525', type='inet', command='smtpd', options=dict(syslog_name='x\x00'))]),
     'master_cf[0] (2525/inet) options.syslog_name'),
])
def test_bad_input_names_the_option_without_leaking(config_dir, capsys, change, option):
    before = digest(config_dir)
    args = args_for(config_dir)
    args.update(change)
    code, result, raw = run_module(args, capsys)
    assert code == 1
    assert result['msg'].startswith(option)
    assert PASSWORD not in raw
    assert 'Traceback' not in raw
    assert digest(config_dir) == before


def test_unknown_master_service_type_is_refused_before_anything(config_dir, capsys):
    before = digest(config_dir)
    code, result, raw = run_module(args_for(config_dir, master_cf=[dict(service='x', type='bogus', command='smtpd')]), capsys)
    assert code == 1 and 'bogus' in result['msg'] and 'type' in result['msg']
    assert digest(config_dir) == before
