# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import (
    MainCf,
    PostfixConfigError,
    edit_main_cf,
    format_parameter,
    logical_lines,
    normalize_value,
    render_value,
    split_lines,
)

STOCK = """\
# See /usr/share/postfix/main.cf.dist for a commented, more complete version

smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no

# appending .domain is the MUA's job.
append_dot_mydomain = no
smtpd_relay_restrictions = permit_mynetworks
    permit_sasl_authenticated
# a comment inside the continued value
  defer_unauth_destination
myhostname = vm.example
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
"""


def test_split_lines_round_trips_every_byte():
    for text in ('', 'a', 'a\n', 'a\n\nb', 'a\r\nb\n', '\n\n'):
        assert ''.join(split_lines(text)) == text


def test_logical_lines_follow_postfix_rules():
    lines = split_lines('a = 1\n  2\n#c\n\n \t\n  3\nb = x\n  \n# trailing comment\nc = y\n')
    parsed = logical_lines(lines)
    assert [(item.first, item.last) for item in parsed] == [(0, 5), (6, 6), (9, 9)]
    assert normalize_value(parsed[0].text) == 'a = 1 2 3'


def test_orphan_continuation_line_is_ignored_like_postfix_does():
    parsed = MainCf('  stray = 1\nname = value\n')
    assert parsed.parameters() == {'name': 'value'}


def test_parse_stock_main_cf():
    parsed = MainCf(STOCK)
    params = parsed.parameters()
    assert params['biff'] == 'no'
    assert normalize_value(params['smtpd_relay_restrictions']) == \
        'permit_mynetworks permit_sasl_authenticated defer_unauth_destination'
    assert parsed.text == STOCK


def test_last_definition_wins_and_malformed_lines_are_kept():
    parsed = MainCf('a = 1\nnot a parameter line\na = 2\n')
    assert parsed.parameters() == {'a': '2'}
    assert [entry.name for entry in parsed.entries] == ['a', None, 'a']


@pytest.mark.parametrize('value, text', [
    (True, 'yes'), (False, 'no'), (25, '25'), ('  x  ', 'x'), ('', ''),
    (['a', 'b', 3], 'a, b, 3'),
])
def test_render_value(value, text):
    assert render_value(value) == text


@pytest.mark.parametrize('value', [
    {'a': 1}, [['nested']], [None], object(),
    # Postfix would read a newline as a continuation (a blank) and cannot hold CR or NUL: the value written
    # would not be the value given.
    'line one\n   line two\n', 'permit\r', 'a\x00b', ['reject', 'permit\n'],
])
def test_render_value_refuses_what_main_cf_cannot_hold(value):
    with pytest.raises(PostfixConfigError):
        render_value(value, 'main_cf.x')


def test_long_list_renders_as_continuation_lines_and_reads_back_equal():
    items = ['permit_mynetworks', 'permit_sasl_authenticated', 'reject_unauth_destination', 'check_policy_service unix:private/policy']
    text = format_parameter('smtpd_recipient_restrictions', items)
    assert text.splitlines()[0] == 'smtpd_recipient_restrictions ='
    assert all(line.startswith('    ') for line in text.splitlines()[1:])
    parsed = MainCf(text)
    assert normalize_value(parsed.get('smtpd_recipient_restrictions')) == render_value(items)
    # Same value, second run: no change even though the layouts differ.
    again, changes = edit_main_cf(text, {'smtpd_recipient_restrictions': items})
    assert not changes and again == text


def test_merge_keeps_untouched_lines_byte_for_byte():
    new, changes = edit_main_cf(STOCK, {'myhostname': 'relay.example', 'relayhost': '[10.0.0.2]'})
    assert changes.as_dict() == {'added': ['relayhost'], 'changed': ['myhostname'], 'removed': []}
    old_lines = STOCK.splitlines(True)
    new_lines = new.splitlines(True)
    changed_at = old_lines.index('myhostname = vm.example\n')
    assert new_lines[:changed_at] == old_lines[:changed_at]
    assert new_lines[changed_at] == 'myhostname = relay.example\n'
    assert new_lines[changed_at + 1:-1] == old_lines[changed_at + 1:]
    assert new_lines[-1] == 'relayhost = [10.0.0.2]\n'


def test_no_op_merge_returns_identical_text_even_with_other_whitespace():
    new, changes = edit_main_cf(STOCK, {
        'smtpd_relay_restrictions': 'permit_mynetworks  permit_sasl_authenticated defer_unauth_destination',
        'biff': False,
    })
    assert not changes
    assert new == STOCK


def test_changing_a_continued_value_replaces_all_its_lines_and_keeps_the_following_comment():
    text = 'a = 1\n  2\n# about b\nb = 3\n'
    new, changes = edit_main_cf(text, {'a': 'x'})
    assert changes.changed == ['a']
    assert new == 'a = x\n# about b\nb = 3\n'


def test_none_removes_every_definition():
    new, changes = edit_main_cf('a = 1\nb = 2\na = 3\n', {'a': None, 'zz': None})
    assert changes.removed == ['a']
    assert new == 'b = 2\n'


def test_changed_duplicate_is_written_once_where_it_was_last_defined():
    new, changes = edit_main_cf('a = 1\nb = 2\na = 3\n', {'a': '4'})
    assert changes.changed == ['a']
    assert new == 'b = 2\na = 4\n'


def test_exclusive_removes_undeclared_but_keeps_comments_and_identity():
    text = '# head\nmyhostname = h\nqueue_directory = /var/spool/postfix-x\nmulti_instance_name = postfix-x\nfoo = 1\n\n# tail\n'
    new, changes = edit_main_cf(text, {'myhostname': 'h', 'bar': '2'}, mode='exclusive')
    assert changes.as_dict() == {'added': ['bar'], 'changed': [], 'removed': ['foo']}
    assert new == '# head\nmyhostname = h\nqueue_directory = /var/spool/postfix-x\nmulti_instance_name = postfix-x\n\n# tail\nbar = 2\n'


def test_exclusive_can_remove_identity_parameters_when_told():
    new, changes = edit_main_cf('queue_directory = /q\n', {'queue_directory': None}, mode='exclusive')
    assert changes.removed == ['queue_directory'] and new == ''


def test_append_to_file_without_final_newline():
    new, _changes = edit_main_cf('a = 1', {'b': 2})
    assert new == 'a = 1\nb = 2\n'


def test_empty_value_and_empty_file():
    new, changes = edit_main_cf('', {'mydestination': ''})
    assert new == 'mydestination =\n' and changes.added == ['mydestination']
    assert MainCf(new).parameters() == {'mydestination': ''}


@pytest.mark.parametrize('name', ['', 'has space', '1abc', 'a-b', 'x=y'])
def test_bad_parameter_names(name):
    with pytest.raises(PostfixConfigError) as info:
        edit_main_cf('', {name: 'v'})
    assert info.value.option == 'main_cf'


def test_bad_mode():
    with pytest.raises(PostfixConfigError):
        edit_main_cf('', {}, mode='replace')


NAMES = st.from_regex(r'[a-z][a-z0-9_]{0,12}', fullmatch=True)
WORDS = st.from_regex(r'[A-Za-z0-9_$./:\[\]-]{1,12}', fullmatch=True)
VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=0, max_value=10 ** 6),
    WORDS,
    st.lists(WORDS, min_size=1, max_size=8),
)
NOISE = st.sampled_from(['', '# comment\n', '\n', '   \n', '#x = y\n'])


@st.composite
def main_cf_texts(draw):
    params = draw(st.dictionaries(NAMES, VALUES, max_size=8))
    parts = []
    for name, value in params.items():
        parts.append(draw(NOISE))
        parts.append(format_parameter(name, value))
    parts.append(draw(NOISE))
    return ''.join(parts), params


@settings(max_examples=150, deadline=None)
@given(main_cf_texts())
def test_property_parse_reads_back_every_rendered_value(sample):
    text, params = sample
    parsed = MainCf(text)
    assert parsed.text == text
    assert dict((k, normalize_value(v)) for k, v in parsed.parameters().items()) == \
        dict((k, normalize_value(render_value(v))) for k, v in params.items())


@settings(max_examples=150, deadline=None)
@given(main_cf_texts(), st.dictionaries(NAMES, st.one_of(st.none(), VALUES), max_size=6),
       st.sampled_from(['merge', 'exclusive']))
def test_property_edit_converges_and_is_idempotent(sample, desired, mode):
    text, _params = sample
    new, _changes = edit_main_cf(text, desired, mode=mode, keep=())
    params = MainCf(new).parameters()
    for name, value in desired.items():
        if value is None:
            assert name not in params
        else:
            assert normalize_value(params[name]) == normalize_value(render_value(value))
    if mode == 'exclusive':
        assert set(params) <= set(name for name, value in desired.items() if value is not None)
    again, changes = edit_main_cf(new, desired, mode=mode, keep=())
    assert not changes
    assert again == new
