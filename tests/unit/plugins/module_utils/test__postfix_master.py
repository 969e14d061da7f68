# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import PostfixConfigError
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_master import (
    MasterCf,
    MasterService,
    edit_master_cf,
    parse_service,
    service_from_spec,
    tokenize,
)

# An excerpt of Debian's master.cf, with its commented-out entries and
# multi-line pipe services.
DEBIAN = """\
#
# Postfix master process configuration file.
# ==========================================================================
# service type  private unpriv  chroot  wakeup  maxproc command + args
#               (yes)   (yes)   (no)    (never) (100)
# ==========================================================================
smtp      inet  n       -       y       -       -       smtpd
#submission inet n       -       y       -       -       smtpd
#  -o syslog_name=postfix/submission
#  -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
relay     unix  -       -       y       -       -       smtp
        -o syslog_name=postfix/$service_name
#       -o smtp_helo_timeout=5 -o smtp_connect_timeout=5
postlog   unix-dgram n  -       n       -       1       postlogd
maildrop  unix  -       n       n       -       -       pipe
  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
uucp      unix  -       n       n       -       -       pipe
  flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)
"""


def test_tokenize_keeps_braced_groups_together():
    assert tokenize('smtpd -o { a = b c } -o x=y {one two}') == ['smtpd', '-o', '{ a = b c }', '-o', 'x=y', '{one two}']
    assert tokenize('pipe argv={ nested { deep } } end') == ['pipe', 'argv={ nested { deep } }', 'end']
    assert tokenize('') == []


def test_parse_debian_master_cf_keeps_everything():
    parsed = MasterCf(DEBIAN)
    assert parsed.text == DEBIAN
    assert [service.label for service in parsed.services] == [
        'smtp/inet', 'pickup/unix', 'cleanup/unix', 'relay/unix', 'postlog/unix-dgram', 'maildrop/unix', 'uucp/unix']
    relay = parsed.find(('relay', 'unix'))[0]
    assert relay.options == [('syslog_name', 'postfix/$service_name')]
    assert (relay.first, relay.last) == (12, 13)
    maildrop = parsed.find(('maildrop', 'unix'))[0]
    assert maildrop.args == ['flags=DRXhu', 'user=vmail', 'argv=/usr/bin/maildrop', '-d', '${recipient}']
    assert parsed.find(('uucp', 'unix'))[0].args[-2:] == ['$nexthop!rmail', '($recipient)']
    assert parsed.find(('pickup', 'unix'))[0].wakeup == '60'


def test_option_forms_are_equivalent():
    forms = [
        'submission inet n - n - - smtpd -o smtpd_client_restrictions=permit_sasl_authenticated,reject',
        'submission inet n - n - - smtpd -osmtpd_client_restrictions=permit_sasl_authenticated,reject',
        'submission inet n - n - - smtpd -o { smtpd_client_restrictions = permit_sasl_authenticated,reject }',
        'submission inet n - n - - smtpd -o {smtpd_client_restrictions=permit_sasl_authenticated,reject}',
    ]
    semantics = set(parse_service(form).semantic() for form in forms)
    assert len(semantics) == 1


def test_option_with_spaces_renders_in_brace_form_and_reads_back():
    service = MasterService('submission', 'inet', 'n', '-', 'n', '-', '-', 'smtpd',
                            [('smtpd_client_restrictions', 'permit_sasl_authenticated, reject'), ('syslog_name', 'x')])
    text = service.render()
    assert '  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }\n' in text
    assert '  -o syslog_name=x\n' in text
    again = MasterCf(text).services[0]
    assert again.semantic() == service.semantic()


def test_order_of_distinct_options_does_not_count_but_values_do():
    one = parse_service('s inet n - n - - smtpd -o a=1 -o b=2')
    two = parse_service('s inet n - n - - smtpd -o b=2 -o a=1')
    three = parse_service('s inet n - n - - smtpd -o b=2 -o a=3')
    assert one.semantic() == two.semantic() != three.semantic()


def test_malformed_lines_are_kept_aside():
    parsed = MasterCf('too few fields here\nsmtp inet n - y - - smtpd\n')
    assert len(parsed.malformed) == 1
    assert [service.label for service in parsed.services] == ['smtp/inet']


def spec(**values):
    base = dict(service='submission', type='inet', private=False, chroot=False, command='smtpd',
                options={'syslog_name': 'postfix/submission', 'smtpd_tls_security_level': 'encrypt'})
    base.update(values)
    return base


def test_add_change_remove_keep_other_lines():
    declared = [(service_from_spec(spec()), 'present'),
                (service_from_spec(dict(service='relay', type='unix', command='smtp', options={'syslog_name': 'relay'})), 'present'),
                (service_from_spec(dict(service='uucp', type='unix', state='absent')), 'absent')]
    new, changes = edit_master_cf(DEBIAN, declared)
    assert changes.as_dict() == {'added': ['submission/inet'], 'changed': ['relay/unix'], 'removed': ['uucp/unix']}
    assert new.startswith(DEBIAN[:DEBIAN.index('relay     unix')])
    assert '#       -o smtp_helo_timeout=5 -o smtp_connect_timeout=5\n' in new  # comment after relay kept
    assert 'uucp' not in new.split('#submission')[1].split('maildrop')[1]
    assert new.endswith('submission inet  n       -       n       -       -       smtpd\n'
                        '  -o syslog_name=postfix/submission\n'
                        '  -o smtpd_tls_security_level=encrypt\n')
    again, changes = edit_master_cf(new, declared)
    assert not changes and again == new


def test_unchanged_entry_keeps_its_own_layout():
    text = 'smtp      inet  n       -       y       -       -       smtpd\n    -o   a=1\n'
    wanted = service_from_spec(dict(service='smtp', type='inet', private='n', chroot='y', command='smtpd', options={'a': 1}))
    new, changes = edit_master_cf(text, [(wanted, 'present')])
    assert not changes and new == text


def test_exclusive_removes_undeclared_services():
    declared = [(service_from_spec(dict(service='smtp', type='inet', private='n', chroot='y', command='smtpd')), 'present')]
    new, changes = edit_master_cf(DEBIAN, declared, mode='exclusive')
    assert changes.removed == ['pickup/unix', 'cleanup/unix', 'relay/unix', 'postlog/unix-dgram', 'maildrop/unix', 'uucp/unix']
    assert [service.label for service in MasterCf(new).services] == ['smtp/inet']
    assert new.startswith('#\n# Postfix master process configuration file.')
    assert '#submission inet n' in new


def test_duplicate_declaration_is_refused():
    service = service_from_spec(spec())
    with pytest.raises(PostfixConfigError):
        edit_master_cf('', [(service, 'present'), (service, 'present')])


@pytest.mark.parametrize('values, option', [
    (dict(type='bogus'), 'type'),
    (dict(service='has space'), 'service'),
    (dict(command=''), 'command'),
    (dict(command='two words'), 'command'),
    (dict(private='maybe'), 'private'),
    (dict(wakeup='soon'), 'wakeup'),
    (dict(maxproc='-1'), 'maxproc'),
    (dict(options={'bad name': 1}), 'options'),
    (dict(options={'x': '{braces}'}), 'options'),
    (dict(options={'x': None}), 'options'),
    (dict(args=[['nested']]), 'args'),
    (dict(args=['-o', 'x=y']), 'args'),
    (dict(args=['-ox=y']), 'args'),
])
def test_bad_specs_name_the_option(values, option):
    with pytest.raises(PostfixConfigError) as info:
        service_from_spec(spec(**values), 3)
    assert 'master_cf[3]' in str(info.value)
    assert option in str(info.value)


def test_spec_normalisation():
    service = service_from_spec(dict(service='maildrop', type='unix', unpriv='no', chroot=False, wakeup=60, maxproc='1',
                                     command='pipe', args='flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}'))
    assert (service.private, service.unpriv, service.chroot, service.wakeup, service.maxproc) == ('-', 'n', 'n', '60', '1')
    assert service.args[-1] == '${recipient}'
    parsed = MasterCf(DEBIAN).find(('maildrop', 'unix'))[0]
    assert parsed.semantic()[7:] == service.semantic()[7:]


def test_argument_with_spaces_is_braced():
    service = service_from_spec(dict(service='p', type='unix', command='pipe', args=['argv=/bin/x', 'one two']))
    assert service.render().endswith('  argv=/bin/x { one two }\n')
    assert MasterCf(service.render()).services[0].semantic() == service.semantic()


SERVICE_NAMES = st.from_regex(r'[a-z][a-z0-9.:-]{0,10}', fullmatch=True)
FLAGS = st.sampled_from(['y', 'n', '-'])
OPTION_VALUES = st.from_regex(r'[A-Za-z0-9_$/.,:-]{0,10}( [A-Za-z0-9_$/.,:-]{1,8}){0,3}', fullmatch=True)


@st.composite
def services(draw):
    return MasterService(
        draw(SERVICE_NAMES), draw(st.sampled_from(['inet', 'unix', 'unix-dgram', 'fifo', 'pass'])),
        draw(FLAGS), draw(FLAGS), draw(FLAGS),
        draw(st.sampled_from(['-', '60', '1000?'])), draw(st.sampled_from(['-', '0', '1', '100'])),
        draw(st.sampled_from(['smtpd', 'smtp', 'pipe', 'cleanup'])),
        list(draw(st.dictionaries(st.from_regex(r'[a-z][a-z_]{0,10}', fullmatch=True), OPTION_VALUES, max_size=4)).items()),
        draw(st.lists(st.from_regex(r'[A-Za-z0-9=/$_.][A-Za-z0-9=/$_.-]{0,9}', fullmatch=True), max_size=4)),
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(services(), max_size=5, unique_by=lambda service: service.key))
def test_property_render_parse_round_trip(items):
    text = ''.join('# comment\n' + service.render() for service in items)
    parsed = MasterCf(text)
    assert parsed.text == text
    assert [service.semantic() for service in parsed.services] == [service.semantic() for service in items]
    again, changes = edit_master_cf(text, [(service, 'present') for service in items], mode='exclusive')
    assert not changes and again == text
