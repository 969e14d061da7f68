# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A host's plan around its instances: the record of deployed instances, certificate table entries."""

from __future__ import annotations

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host_plan import (
    PlanError,
    maps_with_certificates,
    record_plan,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_jobs import certificate_fingerprint
from ansible_collections.mailrelay.smtp.plugins.module_utils._postmulti import is_primary

RECORD = '{"instances": ["postfix-hub", "postfix-submission"]}\n'


def test_unchanged_record_is_kept_byte_for_byte_and_nothing_retires():
    assert record_plan(RECORD, ['postfix-submission', 'postfix-hub'], is_primary) == (RECORD, [])


def test_a_removed_job_retires_and_the_record_forgets_it():
    after, retiring = record_plan(RECORD, ['postfix-hub'], is_primary)
    assert retiring == ['postfix-submission']
    assert after == '{"instances": ["postfix-hub"]}\n'


def test_no_record_and_no_instances_writes_nothing():
    assert record_plan(None, [], is_primary) == (None, [])


def test_the_first_run_writes_the_record_without_the_primary():
    assert record_plan(None, ['postfix', 'postfix-hub'], is_primary) == ('{"instances": ["postfix-hub"]}\n', [])


def test_every_job_removed_keeps_an_empty_record():
    assert record_plan(RECORD, [], is_primary) == ('{"instances": []}\n', ['postfix-hub', 'postfix-submission'])


@pytest.mark.parametrize('text', ['not json', '[1, 2]', '{"instances": "postfix-hub"}', '{"instances": [1]}'])
def test_a_record_this_module_did_not_write_is_refused_naming_the_option(text):
    with pytest.raises(PlanError, match='^record_path: '):
        record_plan(text, ['postfix-hub'], is_primary)


CERT = """-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUBp3m2eVjJ9Zk3v0Bq0Vd0h6m4kIwCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
"""
FILES = {'/etc/tls/sub.pem': CERT}


def _plan(maps, entries, files=None):
    return maps_with_certificates(maps, entries, (files or FILES).get, certificate_fingerprint)


def test_fingerprint_lines_are_added_to_the_named_table_only():
    maps = [{'name': 'relay_clientcerts', 'type': 'hash', 'entries': ''}, {'name': 'other', 'entries': 'a b\n'}]
    planned = _plan(maps, [{'map': 'relay_clientcerts', 'files': ['/etc/tls/sub.pem'], 'value': 'submission'}])
    assert planned[0]['entries'] == '%s submission\n' % certificate_fingerprint(CERT)
    assert planned[1] == maps[1]
    assert maps[0]['entries'] == ''   # the caller's list is not changed


def test_a_fingerprint_already_in_the_table_is_not_repeated():
    line = '%s submission\n' % certificate_fingerprint(CERT)
    maps = [{'name': 'relay_clientcerts', 'entries': line}]
    planned = _plan(maps, [{'map': 'relay_clientcerts', 'files': ['/etc/tls/sub.pem', '/etc/tls/sub.pem'], 'value': 'submission'}])
    assert planned[0]['entries'] == line


@pytest.mark.parametrize('entries, message', [
    ('x', r'^certificate_entries: must be a list'),
    ([{'files': []}], r'^certificate_entries\[0\]: needs map'),
    ([{'map': 'nowhere', 'files': []}], r'^certificate_entries\[0\]\.map: the instance has no table nowhere'),
    ([{'map': 'relay_clientcerts', 'files': ['/missing.pem']}], r'^certificate_entries\[0\]\.files: /missing.pem does not exist'),
    ([{'map': 'relay_clientcerts', 'files': ['/etc/tls/key.pem']}], r'^certificate_entries\[0\]\.files: /etc/tls/key.pem: no PEM certificate'),
    ([{'map': 'relay_clientcerts', 'files': [], 'value': 'two words'}], r'^certificate_entries\[0\]\.value: must be one word'),
])
def test_bad_entries_are_refused_naming_the_field(entries, message):
    files = dict(FILES, **{'/etc/tls/key.pem': '-----BEGIN PRIVATE KEY-----\n'})
    with pytest.raises(PlanError, match=message):
        _plan([{'name': 'relay_clientcerts', 'entries': ''}], entries, files)
