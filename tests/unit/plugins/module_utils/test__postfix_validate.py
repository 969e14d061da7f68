# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_validate import (
    RESTART_PARAMETERS,
    check_interfaces,
    check_maillog_file,
    check_master_command,
    check_parameters,
    check_table_references,
    classify_warnings,
    parse_postconf,
    parse_postconf_services,
    split_list,
    table_references,
)


class Probe:
    """Answers host questions from fixed sets (the unit under test is pure)."""

    def __init__(self, files=(), dirs=(), local=(), bindable=(), names=None):
        self.files = set(files)
        self.dirs = set(dirs)
        self.local = set(local)
        self.bindable = set(bindable) | self.local
        self.names = names or {}

    def exists(self, path):
        return path in self.files or path in self.dirs

    def isdir(self, path):
        return path in self.dirs

    def is_local_address(self, address):
        return address in self.local

    def can_bind(self, address):
        return address in self.bindable

    def resolve(self, name):
        return self.names.get(name, [])


def test_split_list_keeps_braces():
    assert split_list('a, b  c,,d') == ['a', 'b', 'c', 'd']
    assert split_list('check_x inline:{ a=b, c=d }, reject') == ['check_x', 'inline:{ a=b, c=d }', 'reject']


def test_table_references_in_restriction_lists():
    value = ('permit_mynetworks, check_client_access hash:/etc/p/access, check_sender_access proxy:lmdb:/etc/p/s, '
             'check_policy_service inet:127.0.0.1:10023, reject_unauth_destination, '
             'check_recipient_access unionmap:{ cidr:/etc/p/c, pcre:/etc/p/re }, inline:{ x=hash:/not/a/ref }, '
             'static:OK, smtp:[hub]:25, ldap:/etc/p/ldap.cf')
    assert list(table_references(value)) == [
        ('hash', '/etc/p/access'), ('lmdb', '/etc/p/s'), ('cidr', '/etc/p/c'), ('pcre', '/etc/p/re'), ('ldap', '/etc/p/ldap.cf')]


def test_missing_table_is_reported_unless_this_run_writes_it():
    probe = Probe(files={'/etc/p/here.db', '/etc/p/gone.db'})
    value = 'hash:/etc/p/here, hash:/etc/p/new, hash:/etc/p/gone, regexp:/etc/p/re'
    problems = check_table_references('main_cf.x', value, probe.exists,
                                      provided={'/etc/p/new', '/etc/p/new.db'}, removed={'/etc/p/gone.db'})
    assert len(problems) == 2
    assert problems[0].startswith('main_cf.x: table hash:/etc/p/gone is missing (/etc/p/gone.db')
    assert problems[1].startswith('main_cf.x: table regexp:/etc/p/re is missing (/etc/p/re ')


def test_relative_and_unresolved_tables():
    assert check_table_references('w', 'hash:relative', lambda path: False) == []
    assert 'cannot resolve' in check_table_references('w', 'hash:$config_directory/x', lambda path: False)[0]


def test_certificate_parameters():
    probe = Probe(files={'/etc/ssl/ok.pem'}, dirs={'/etc/ssl/certs'})
    problems = check_parameters({
        'smtpd_tls_cert_file': '/etc/ssl/ok.pem',
        'smtpd_tls_key_file': '/etc/ssl/missing.key',
        'smtpd_tls_chain_files': '/etc/ssl/ok.pem, /etc/ssl/chain.pem',
        'smtp_tls_CAfile': '/etc/ssl/ca.pem',
        'smtp_tls_CApath': '/etc/ssl/nocerts',
        'smtpd_tls_CApath': '/etc/ssl/certs',
        'smtpd_tls_eccert_file': '',
    }, probe)
    assert problems == [
        'main_cf.smtpd_tls_key_file: file /etc/ssl/missing.key does not exist',
        'main_cf.smtpd_tls_chain_files: file /etc/ssl/chain.pem does not exist',
        'main_cf.smtp_tls_CAfile: file /etc/ssl/ca.pem does not exist',
        'main_cf.smtp_tls_CApath: directory /etc/ssl/nocerts does not exist',
    ]


@pytest.mark.parametrize('value, problem', [
    ('all', None),
    ('loopback-only', None),
    ('127.0.2.1', None),
    ('[127.0.2.1]', None),
    ('127.0.2.1, ::1', None),
    ('localhost', None),
    ('127.0.2.99', 'address 127.0.2.99 is not assigned to a local interface'),
    ('127.0.0.300', "'127.0.0.300' is neither an IP address nor a host name"),
    ('127.0.2.1 bad_name!', "'bad_name!' is neither an IP address nor a host name"),
    ('all, 127.0.2.1', 'all cannot be combined with other values'),
    ('', None),
    ('nowhere.invalid', 'host name nowhere.invalid does not resolve'),
    ('remote.example', 'remote.example resolves to 192.0.2.1, which is not assigned to a local interface'),
])
def test_inet_interfaces(value, problem):
    probe = Probe(local={'127.0.2.1', '127.0.0.1', '::1'},
                  names={'localhost': ['127.0.0.1', '::1'], 'remote.example': ['192.0.2.1']})
    problems = check_interfaces('main_cf.inet_interfaces', value, probe.is_local_address, probe.resolve)
    if problem is None:
        assert problems == []
    else:
        assert problems == ['main_cf.inet_interfaces: ' + problem]


def test_host_name_addresses_outside_enabled_protocols_are_ignored():
    problems = check_interfaces('w', 'dual.example', {'127.0.0.1'}.__contains__, {'dual.example': ['127.0.0.1', '2001:db8::1']}.get,
                                protocols=('ipv4',))
    assert problems == []


def test_bind_address_and_protocols_in_check_parameters():
    probe = Probe(local={'127.0.2.1'}, bindable={'127.0.2.7'})
    problems = check_parameters({'smtp_bind_address': '127.0.2.7', 'lmtp_bind_address': '192.0.2.9',
                                 'smtp_bind_address6': 'not-an-ip', 'inet_interfaces': '127.0.2.1',
                                 'inet_protocols': 'ipv4'}, probe)
    assert problems == ['main_cf.lmtp_bind_address: cannot bind to 192.0.2.9 (not a local address)',
                        "main_cf.smtp_bind_address6: 'not-an-ip' is not an IP address"]


def test_master_option_checks_name_the_service():
    problems = check_parameters({'smtpd_client_restrictions': 'check_client_access hash:/nope'}, Probe(),
                                where_format='master_cf submission/inet -o %s')
    assert problems[0].startswith('master_cf submission/inet -o smtpd_client_restrictions: table hash:/nope is missing')


@pytest.mark.parametrize('value, prefixes, ok', [
    ('/var/log/postfix.log', None, True),
    ('/dev/stdout', None, True),
    ('/tmp/postfix.log', None, False),
    ('/tmp/postfix.log', '/tmp', True),
    ('', None, True),
])
def test_maillog_file(value, prefixes, ok):
    assert (check_maillog_file('main_cf.maillog_file', value, prefixes) == []) == ok


def test_master_command():
    exists = {'/usr/lib/postfix/sbin/smtpd', '/opt/filter'}.__contains__
    assert check_master_command('w', 'smtpd', '/usr/lib/postfix/sbin/', exists) == []
    assert check_master_command('w', '/opt/filter', '/usr/lib/postfix/sbin', exists) == []
    assert check_master_command('w', 'smtpdx', '/usr/lib/postfix/sbin', exists) == [
        'w: command smtpdx not found (/usr/lib/postfix/sbin/smtpdx does not exist)']


def test_postconf_output_parsers():
    assert parse_postconf('a = 1\nb =\nc = x = y\n') == {'a': '1', 'b': '', 'c': 'x = y'}
    assert parse_postconf_services('smtp/inet/a = 1\nsub/inet/b = x y\nnoise\n') == {
        ('smtp', 'inet'): {'a': '1'}, ('sub', 'inet'): {'b': 'x y'}}


def test_classify_warnings():
    stderr = ('postconf: warning: /e/main.cf: unused parameter: foo=1\n'
              'postconf: warning: /e/main.cf, line 3: overriding earlier entry: a=1\n'
              'postconf: fatal: /e/main.cf, line 4: missing \'=\' after attribute name: "x y"\n')
    unused, other, fatal = classify_warnings(stderr)
    assert len(unused) == len(other) == len(fatal) == 1
    assert 'missing' in fatal[0]


def test_restart_parameters_cover_the_documented_ones():
    assert {'inet_interfaces', 'inet_protocols', 'queue_directory', 'mail_owner'} <= set(RESTART_PARAMETERS)
    assert 'myhostname' not in RESTART_PARAMETERS


def services(text):
    from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_master import MasterCf
    return MasterCf(text).services


PORTS = {'smtp': 25, 'submission': 587, '2525': 2525}.get


def test_listen_endpoints_follow_interfaces_services_and_disabling():
    master = services('smtp inet n - y - - smtpd\nsubmission inet n - n - - smtpd\n127.0.2.9:2525 inet n - n - - smtpd\n'
                      'pickup unix n - y 60 1 pickup\nnosuch inet n - n - - smtpd\n')
    from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_validate import listen_endpoints
    resolve = {'mx.local': ['127.0.2.5']}.get
    assert listen_endpoints({'inet_interfaces': '127.0.2.1'}, master, PORTS, resolve) == {
        ('127.0.2.1', 25), ('127.0.2.1', 587), ('127.0.2.9', 2525)}
    assert ('*', 25) in listen_endpoints({}, master, PORTS, resolve)
    assert ('::1', 587) in listen_endpoints({'inet_interfaces': 'loopback-only'}, master, PORTS, resolve)
    assert ('127.0.2.5', 25) in listen_endpoints({'inet_interfaces': 'mx.local'}, master, PORTS, resolve)
    assert listen_endpoints({'master_service_disable': 'inet'}, master, PORTS, resolve) == set()
    assert ('127.0.2.1', 587) not in listen_endpoints(
        {'inet_interfaces': '127.0.2.1', 'master_service_disable': 'submission/inet'}, master, PORTS, resolve)


def test_endpoint_clashes():
    from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_validate import endpoint_clashes
    mine = {('127.0.2.1', 25), ('127.0.2.1', 587)}
    assert endpoint_clashes(mine, {('127.0.2.2', 25)}) == []
    assert endpoint_clashes(mine, {('127.0.2.1', 25)}) == [('127.0.2.1', 25)]
    assert endpoint_clashes(mine, {('*', 587)}) == [('127.0.2.1', 587)]
    assert endpoint_clashes({('*', 25)}, {('127.0.2.7', 25), ('127.0.2.7', 24)}) == [('*', 25)]
