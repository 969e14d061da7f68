# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The parts of a host's plan that postfix_instances adds around its instances.

Private to the collection. Pure: what they need from the host (a file's text,
a certificate's fingerprint) comes in as arguments, so a preflight can plan a
host's whole change - the record of deployed instances, the instances that
retire, table entries made from certificates on the host - in one call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re


class PlanError(ValueError):
    """A plan cannot be made; the message names the field."""


def record_plan(record_text, present_names, is_primary):
    """``(new record text or None, names that retire)`` for the record ``record_text`` (None: no record yet).

    The record lists the secondary instances a caller deployed (JSON
    ``{"instances": [...]}``); a recorded name no longer in ``present_names``
    retires. No record and nothing to record: nothing is written.
    """
    recorded = []
    if record_text is not None:
        try:
            recorded = json.loads(record_text).get('instances') or []
        except (ValueError, AttributeError):
            raise PlanError('record_path: not a record this module wrote (JSON with "instances")')
        if not isinstance(recorded, list) or not all(isinstance(name, str) for name in recorded):
            raise PlanError('record_path: "instances" must be a list of instance names')
    kept = sorted(name for name in set(present_names) if not is_primary(name))
    after = json.dumps({'instances': kept}) + '\n' if kept or record_text is not None else None
    retiring = [name for name in recorded if name not in present_names and not is_primary(name)]
    return after, retiring


def maps_with_certificates(maps, certificate_entries, read, fingerprint, where='certificate_entries'):
    """A copy of ``maps`` where each entry ``{map, files, value}`` adds ``FINGERPRINT value`` lines to table ``map``.

    ``read(path)``: the file's text or None; ``fingerprint(text)``: the
    certificate's fingerprint, ValueError when there is none. Lines already in
    the table are not repeated; new ones are added in sorted order, so the
    table's text is the same on every run.
    """
    if not isinstance(certificate_entries, list):
        raise PlanError('%s: must be a list' % where)
    maps = [dict(table) if isinstance(table, dict) else table for table in maps or []]
    for number, entry in enumerate(certificate_entries):
        field = '%s[%d]' % (where, number)
        if not isinstance(entry, dict) or not isinstance(entry.get('map'), str) or not isinstance(entry.get('files'), list):
            raise PlanError('%s: needs map (a table name) and files (a list of paths)' % field)
        value = entry.get('value') or 'OK'
        if not isinstance(value, str) or any(char in value for char in ' \t\r\n'):
            raise PlanError('%s.value: must be one word' % field)
        tables = [table for table in maps if isinstance(table, dict) and table.get('name') == entry['map']]
        if not tables:
            raise PlanError('%s.map: the instance has no table %s' % (field, entry['map']))
        lines = set()
        for path in entry['files']:
            text = read(path)
            if text is None:
                raise PlanError('%s.files: %s does not exist on this host' % (field, path))
            try:
                lines.add('%s %s\n' % (fingerprint(text), value))
            except ValueError as exc:
                raise PlanError('%s.files: %s: %s' % (field, path, exc))
        table = tables[0]
        entries = table.get('entries') or ''
        if not isinstance(entries, str):
            raise PlanError('%s.map: table %s must hold its entries as text' % (field, entry['map']))
        known = set(entries.splitlines())
        table['entries'] = entries + ''.join(sorted(line for line in lines if line.rstrip('\n') not in known))
    return maps


_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


def certificate_fingerprint(pem):
    """SHA-256 fingerprint (``AB:CD:...``) of the first certificate of a PEM text, as Postfix's
    ``smtpd_tls_fingerprint_digest = sha256`` computes it for a client certificate."""
    if isinstance(pem, bytes):
        pem = pem.decode("ascii", "replace")
    match = _PEM_CERTIFICATE.search(pem or "")
    if not match:
        raise ValueError("no PEM certificate (-----BEGIN CERTIFICATE-----) found")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the PEM certificate is not valid base64")
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[index:index + 2] for index in range(0, len(digest), 2))
