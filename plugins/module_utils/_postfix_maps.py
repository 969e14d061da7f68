# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure model of Postfix lookup tables written as files: types, rendering, masking.

Private to the collection. Only tables whose source is a file that this
collection writes are modelled here; ``inline:``, ``static:`` and friends
are written directly into main.cf values.
"""

from __future__ import annotations

import posixpath

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import (
    PostfixConfigError,
    is_skipped_line,
    render_value,
    split_lines,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._validate import has_line_break

MASK = '********'
HEADER = '# Managed by Ansible (mailrelay.smtp). Local changes are overwritten.\n'


class MapType:
    """How Postfix uses one table type.

    ``suffixes``: files postmap(1) builds next to the source (empty for
    types read from the source itself). ``reload``: the daemons read the
    table once at start, so a change needs ``postfix reload``; indexed
    tables are reopened by the daemons when the database file changes.
    ``patterns``: keys are patterns (order matters, keys may hold spaces).
    """

    __slots__ = ('name', 'suffixes', 'reload', 'patterns')

    def __init__(self, name, suffixes=(), reload=False, patterns=False):
        self.name = name
        self.suffixes = tuple(suffixes)
        self.reload = reload
        self.patterns = patterns

    @property
    def indexed(self):
        return bool(self.suffixes)


MAP_TYPES = {
    'hash': MapType('hash', ('.db',)),
    'btree': MapType('btree', ('.db',)),
    'lmdb': MapType('lmdb', ('.lmdb',)),
    'cdb': MapType('cdb', ('.cdb',)),
    'dbm': MapType('dbm', ('.dir', '.pag')),
    'sdbm': MapType('sdbm', ('.dir', '.pag')),
    'texthash': MapType('texthash', reload=True),
    'regexp': MapType('regexp', reload=True, patterns=True),
    'pcre': MapType('pcre', reload=True, patterns=True),
    'cidr': MapType('cidr', reload=True),
}


def map_path(config_dir, name):
    """Absolute path of a map file: ``name`` is absolute or relative to config_dir."""
    if posixpath.isabs(name):
        return posixpath.normpath(name)
    return posixpath.normpath(posixpath.join(config_dir, name))


def database_paths(path, map_type):
    return [path + suffix for suffix in MAP_TYPES[map_type].suffixes]


def _entry_pairs(entries, option):
    """Yield ``(key, value)`` pairs, or ``(line, None)`` for a verbatim line."""
    if entries is None:
        return
    if isinstance(entries, str):
        # The table's text itself: cheap to pass around when it has thousands of entries.
        for line in entries.splitlines():
            if line.strip():
                yield line.rstrip(), None
        return
    if isinstance(entries, dict):
        for key, value in entries.items():
            yield key, value
        return
    if not isinstance(entries, (list, tuple)):
        raise PostfixConfigError(option, 'entries must be a dictionary, a list or the table text')
    for position, item in enumerate(entries):
        if isinstance(item, str):
            yield item, None
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            yield item[0], item[1]
        elif isinstance(item, dict) and set(item) == set(('key', 'value')):
            yield item['key'], item['value']
        else:
            raise PostfixConfigError(
                '%s[%d]' % (option, position),
                'each list item must be a [key, value] pair, a {key, value} dictionary or a verbatim line')


def render_map(map_type, entries, option='maps.entries'):
    """Source text of a table: a fixed header line, then one ``key value`` line per entry.

    For pattern tables (regexp, pcre) the list order is kept, since the first
    match wins; a plain string in the list is written verbatim (for
    ``if``/``endif`` blocks). Values are rendered like main.cf values
    (a list becomes ``a, b``).
    """
    if map_type not in MAP_TYPES:
        raise PostfixConfigError('maps.type', 'unsupported map type %r' % (map_type,))
    kind = MAP_TYPES[map_type]
    lines = [HEADER]
    for key, value in _entry_pairs(entries, option):
        for part in (key, value) + tuple(value if isinstance(value, (list, tuple)) else ()):
            if has_line_break(part):
                where = '%s[%s]' % (option, key.strip().split('\n')[0] if isinstance(key, str) else key)
                raise PostfixConfigError(where, 'a key or value must be one line: a line break cannot be written into a table')
        key_text = render_value(key, option) if not isinstance(key, str) else key.strip()
        if value is None:
            if '\n' in key_text or not key_text:
                raise PostfixConfigError(option, 'a verbatim line must be one non-empty line')
            lines.append(key_text + '\n')
            continue
        where = '%s[%s]' % (option, key_text)
        if not key_text or '\n' in key_text:
            raise PostfixConfigError(where, 'a key must be one non-empty line')
        if not kind.patterns and any(char.isspace() for char in key_text):
            raise PostfixConfigError(where, 'a %s key must not contain whitespace' % map_type)
        if key_text.startswith('#'):
            raise PostfixConfigError(where, 'a key must not start with #')
        value_text = render_value(value, where)
        if '\n' in value_text:
            raise PostfixConfigError(where, 'a value must be one line')
        lines.append('%s %s\n' % (key_text, value_text) if value_text else '%s\n' % key_text)
    return ''.join(lines)


def secret_values(entries):
    """The values of a secret map, for the caller's no-log list."""
    values = []
    for key, value in _entry_pairs(entries, 'maps.entries'):
        if value is None:
            # A verbatim "key value" line: its value is secret too.
            parts = str(key).split(None, 1)
            if len(parts) == 2:
                values.append(parts[1].strip())
            continue
        text = render_value(value)
        if text:
            values.append(text)
    return values


def mask_map_text(text, changed_keys=()):
    """Replace every value of a table source with MASK; keys stay visible.

    A key listed in ``changed_keys`` gets ``MASK (changed)`` so that a
    password change is visible in a diff without showing either password.
    Comments and blank lines stay; continuation lines are masked entirely.
    """
    out = []
    for line in split_lines(text):
        body = line.rstrip('\n')
        newline = line[len(body):]
        if is_skipped_line(body):
            out.append(line)
            continue
        if body[:1].isspace():
            out.append(' ' + MASK + newline)
            continue
        parts = body.split(None, 1)
        if len(parts) < 2:
            out.append(line)
            continue
        marker = ' (changed)' if parts[0] in changed_keys else ''
        out.append('%s %s%s%s' % (parts[0], MASK, marker, newline))
    return ''.join(out)


def table_values(text):
    """``{key: value}`` of a table source (last definition wins), for masking diffs."""
    values = {}
    for line in split_lines(text):
        body = line.rstrip('\n')
        if is_skipped_line(body) or body[:1].isspace():
            continue
        parts = body.split(None, 1)
        values[parts[0]] = parts[1].strip() if len(parts) > 1 else ''
    return values


def changed_keys(before, after):
    """Keys present in both table sources whose value differs (a new key is visible as a new line)."""
    old = table_values(before or '')
    new = table_values(after or '')
    return set(key for key in set(old) & set(new) if old[key] != new[key])


def default_mode(secret):
    return 0o600 if secret else 0o644


def parse_mode(value, option):
    """File mode from an octal string ('0640'), or an int already decoded."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise PostfixConfigError(option, 'must be an octal mode such as "0640"')
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        try:
            mode = int(text, 8)
        except ValueError:
            raise PostfixConfigError(option, 'must be an octal mode such as "0640", got %r' % (value,))
    if mode < 0 or mode > 0o7777:
        raise PostfixConfigError(option, 'mode out of range: %r' % (value,))
    return mode
