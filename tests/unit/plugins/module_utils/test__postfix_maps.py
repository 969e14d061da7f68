# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import PostfixConfigError
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_maps import (
    HEADER,
    MASK,
    changed_keys,
    database_paths,
    map_path,
    mask_map_text,
    parse_mode,
    render_map,
    secret_values,
    table_values,
)


def test_render_dict_and_pairs_give_the_same_table():
    as_dict = render_map('hash', {'example.com': 'smtp:[hub]', 'example.net': ['a@x', 'b@y']})
    as_pairs = render_map('hash', [['example.com', 'smtp:[hub]'], {'key': 'example.net', 'value': ['a@x', 'b@y']}])
    assert as_dict == as_pairs == HEADER + 'example.com smtp:[hub]\nexample.net a@x, b@y\n'


def test_pattern_tables_keep_order_and_verbatim_lines():
    text = render_map('pcre', [
        'if /^Received:/',
        ['/internal\\.example/', 'IGNORE'],
        'endif',
        ['/^Subject: .*viagra/', 'REJECT no spam here'],
    ])
    assert text.splitlines()[1:] == [
        'if /^Received:/', '/internal\\.example/ IGNORE', 'endif', '/^Subject: .*viagra/ REJECT no spam here']


def test_cidr_and_values_of_other_types():
    assert render_map('cidr', [['192.0.2.0/24', 'OK'], ['0.0.0.0/0', 'REJECT']]).endswith('192.0.2.0/24 OK\n0.0.0.0/0 REJECT\n')
    assert render_map('hash', {'k': True, 'n': 5, 'e': ''}).endswith('k yes\nn 5\ne\n')
    assert render_map('hash', {}) == HEADER


@pytest.mark.parametrize('map_type, entries', [
    ('hash', {'two words': 'x'}),
    ('hash', {'': 'x'}),
    ('hash', {'#comment': 'x'}),
    ('hash', {'k': {'nested': 1}}),
    ('hash', 42),
    ('hash', [['only one']]),
    ('hash', ['']),
    ('nope', {}),
])
def test_bad_tables(map_type, entries):
    with pytest.raises(PostfixConfigError):
        render_map(map_type, entries)


def test_table_text_is_written_as_given():
    text = "example.org OK\nexample.net OK\n\n"
    assert render_map('hash', text) == render_map('hash', [['example.org', 'OK'], ['example.net', 'OK']])


def test_secret_values_of_table_text():
    assert secret_values("[relay.example]:587 acct:S3cret\n") == ['acct:S3cret']


def test_paths():
    assert map_path('/etc/postfix-x', 'transport') == '/etc/postfix-x/transport'
    assert map_path('/etc/postfix-x', 'maps/virtual') == '/etc/postfix-x/maps/virtual'
    assert map_path('/etc/postfix-x', '/srv/t//x') == '/srv/t/x'
    assert database_paths('/e/t', 'hash') == ['/e/t.db']
    assert database_paths('/e/t', 'lmdb') == ['/e/t.lmdb']
    assert database_paths('/e/t', 'dbm') == ['/e/t.dir', '/e/t.pag']
    assert database_paths('/e/t', 'pcre') == []


def test_masking_keeps_keys_and_marks_changed_values():
    before = HEADER + '[relay.example]:587 alice:old\n[other]:25 bob:same\n'
    after = HEADER + '[relay.example]:587 alice:new\n[other]:25 bob:same\n[new]:2525 carol:pw\n'
    keys = changed_keys(before, after)
    assert keys == {'[relay.example]:587'}
    masked_before = mask_map_text(before)
    masked_after = mask_map_text(after, keys)
    for secret in ('alice', 'bob', 'carol', 'old', 'new:', 'same', 'pw'):
        assert secret not in masked_before.replace('[new]', '') and secret not in masked_after.replace('[new]', '')
    assert masked_after.splitlines()[1:] == [
        '[relay.example]:587 %s (changed)' % MASK, '[other]:25 %s' % MASK, '[new]:2525 %s' % MASK]
    assert mask_map_text('# c\n\nkey\n  continued secret\n') == '# c\n\nkey\n ' + MASK + '\n'


def test_secret_values_and_table_values():
    entries = [['[a]:587', 'u:p1'], {'key': '[b]:587', 'value': 'u:p2'}, 'verbatim']
    assert secret_values(entries) == ['u:p1', 'u:p2']
    assert table_values(render_map('hash', entries)) == {'[a]:587': 'u:p1', '[b]:587': 'u:p2', 'verbatim': ''}


@pytest.mark.parametrize('value, mode', [('0640', 0o640), ('600', 0o600), (0o644, 0o644), (None, None)])
def test_parse_mode(value, mode):
    assert parse_mode(value, 'mode') == mode


@pytest.mark.parametrize('value', ['rw-r--r--', '99999', True, '-1'])
def test_parse_mode_refuses(value):
    with pytest.raises(PostfixConfigError):
        parse_mode(value, 'maps[0] mode')


KEYS = st.from_regex(r'[A-Za-z0-9@.\[\]:_-]{1,16}', fullmatch=True).filter(lambda key: not key.startswith('#'))
SECRETS = st.from_regex(r'[A-Za-z0-9:!%&*+=_-]{4,20}', fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(KEYS, SECRETS, min_size=1, max_size=8), st.dictionaries(KEYS, SECRETS, max_size=8))
def test_property_masked_text_never_shows_a_secret(old, new):
    before = render_map('hash', old)
    after = render_map('hash', new)
    shown = mask_map_text(before) + mask_map_text(after, changed_keys(before, after))
    keys_text = ' '.join(list(old) + list(new))
    for secret in list(old.values()) + list(new.values()):
        if secret not in keys_text and secret not in MASK + ' (changed)' + HEADER:
            assert secret not in shown
    assert table_values(after) == new
