# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure model of Postfix ``main.cf``: parse, render values, merge and exclusive edits.

This file is private to the collection (leading underscore): it may change
at any time. It never touches a host; callers pass file contents in and get
file contents back.

Postfix reads configuration files as *logical lines* (see readlline(3) in
the Postfix sources): a logical line starts with non-whitespace text, a line
that starts with whitespace continues it, and empty lines, whitespace-only
lines and lines whose first non-whitespace character is ``#`` are skipped
(also in the middle of a continued line). The parser below follows exactly
these rules and remembers the physical line range of every entry, so an edit
replaces only the lines of the entries it changes and keeps every other byte.
"""

from __future__ import annotations

import re

from ansible_collections.mailrelay.smtp.plugins.module_utils._validate import ONE_LINE, has_line_break

# Parameters that name the instance for postmulti(1) or locate its queue and
# data: an exclusive edit never removes them unless they are declared, because
# removing them would silently turn a secondary instance into a copy of the
# primary one.
EXCLUSIVE_KEEP = (
    'multi_instance_name',
    'multi_instance_group',
    'multi_instance_enable',
    'multi_instance_directories',
    'multi_instance_wrapper',
    'queue_directory',
    'data_directory',
)

PARAMETER_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')

# A rendered list longer than this is written one item per continuation line.
LONG_LINE = 78
CONTINUATION_INDENT = '    '


class PostfixConfigError(ValueError):
    """Bad input for the Postfix model; ``option`` names the offending option."""

    def __init__(self, option, message):
        super().__init__('%s: %s' % (option, message) if option else message)
        self.option = option
        self.reason = message


# ---------------------------------------------------------------------------
# Physical and logical lines (shared with master.cf)
# ---------------------------------------------------------------------------

def split_lines(text):
    """Split ``text`` into physical lines that keep their newline.

    ``''.join(split_lines(text)) == text`` always holds; the last line lacks
    a newline when the text does not end with one.
    """
    if not text:
        return []
    parts = text.split('\n')
    lines = [part + '\n' for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def is_skipped_line(line):
    """True for the lines Postfix ignores: empty, whitespace-only, comments."""
    stripped = line.strip()
    return not stripped or stripped.startswith('#')


class LogicalLine:
    """One logical line: physical lines ``first``..``last`` joined as Postfix does."""

    __slots__ = ('first', 'last', 'text')

    def __init__(self, first, last, text):
        self.first = first
        self.last = last
        self.text = text

    def __repr__(self):
        return 'LogicalLine(%d, %d, %r)' % (self.first, self.last, self.text)


def logical_lines(lines):
    """Group physical lines into logical lines.

    Skipped lines (comments, blank) inside a continued entry are not part of
    its text, and ``last`` is the last *continuation* line, so a comment that
    follows an entry stays outside the entry's line range. A continuation
    line without a preceding entry is ignored, as Postfix does (with a
    warning).
    """
    result = []
    current = None
    for index, line in enumerate(lines):
        body = line.rstrip('\n')
        if is_skipped_line(body):
            continue
        if body[:1].isspace():
            if current is not None:
                # Postfix deletes only the newline: the leading whitespace of
                # the continuation line stays in the logical line.
                current.text += body
                current.last = index
            continue
        current = LogicalLine(index, index, body)
        result.append(current)
    return result


def normalize_value(value):
    """Compare form of a value: whitespace runs collapsed, ends stripped."""
    return ' '.join(value.split())


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

def _scalar_text(value, option):
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        # Postfix would read a newline as a continuation line (a blank) and a NUL not at all: the value
        # written would differ from the value given, so it is refused. Layout is rendering's job.
        if has_line_break(value):
            raise PostfixConfigError(option, ONE_LINE)
        return value.strip()
    raise PostfixConfigError(option, 'expected a string, number, boolean or list, got %s' % type(value).__name__)


def value_items(value, option=None):
    """Return the list items of a list value, or None for a scalar value."""
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if isinstance(item, (list, tuple, dict)) or item is None:
                raise PostfixConfigError(option, 'list items must be strings, numbers or booleans')
            text = _scalar_text(item, option)
            if text:
                items.append(text)
        return items
    return None


def render_value(value, option=None):
    """Render a Python value as a main.cf value (one line).

    bool -> ``yes``/``no``; numbers -> decimal text; list -> items joined by
    ``", "``; strings are stripped; a line break (or NUL) is refused.
    """
    items = value_items(value, option)
    if items is not None:
        return ', '.join(items)
    if isinstance(value, dict):
        raise PostfixConfigError(option, 'a dictionary is not a valid main.cf value')
    return _scalar_text(value, option)


def format_parameter(name, value):
    """Return the physical line(s) of ``name = value``, newline terminated.

    A list whose single-line form would be longer than LONG_LINE is written
    one item per continuation line; Postfix reads both layouts as the same
    value, so switching layouts is never reported as a change.
    """
    items = value_items(value, name)
    text = render_value(value, name)
    if items is not None and len(items) > 1 and len(name) + 3 + len(text) > LONG_LINE:
        lines = ['%s =\n' % name]
        for position, item in enumerate(items):
            suffix = ',' if position < len(items) - 1 else ''
            lines.append('%s%s%s\n' % (CONTINUATION_INDENT, item, suffix))
        return ''.join(lines)
    if text == '':
        return '%s =\n' % name
    return '%s = %s\n' % (name, text)


def check_parameter_name(name, option='main_cf'):
    if not isinstance(name, str) or not PARAMETER_NAME.match(name):
        raise PostfixConfigError(
            option, 'invalid parameter name %r: use letters, digits and underscores, starting with a letter' % (name,))


# ---------------------------------------------------------------------------
# main.cf
# ---------------------------------------------------------------------------

class MainCfEntry:
    """A ``name = value`` logical line (``name`` is None for a malformed line)."""

    __slots__ = ('name', 'value', 'first', 'last')

    def __init__(self, name, value, first, last):
        self.name = name
        self.value = value
        self.first = first
        self.last = last

    def __repr__(self):
        return 'MainCfEntry(%r, %r, %d, %d)' % (self.name, self.value, self.first, self.last)


class MainCf:
    """Parsed main.cf that remembers every physical line."""

    def __init__(self, text=''):
        self.lines = split_lines(text or '')
        self.entries = []
        for logical in logical_lines(self.lines):
            name, sep, value = logical.text.partition('=')
            name = name.strip()
            if not sep or not PARAMETER_NAME.match(name):
                # Postfix refuses such a line ("missing '='"); keep it as is so
                # that validation reports it instead of this parser hiding it.
                self.entries.append(MainCfEntry(None, logical.text, logical.first, logical.last))
                continue
            self.entries.append(MainCfEntry(name, value.strip(), logical.first, logical.last))

    @property
    def text(self):
        return ''.join(self.lines)

    def parameters(self):
        """Effective parameters in file order: the last definition wins."""
        result = {}
        for entry in self.entries:
            if entry.name is not None:
                result.pop(entry.name, None)
                result[entry.name] = entry.value
        return result

    def get(self, name, default=None):
        return self.parameters().get(name, default)

    def occurrences(self, name):
        return [entry for entry in self.entries if entry.name == name]


class EditChanges:
    """Names added, changed and removed by an edit, in the order they were seen
    (main.cf parameters or master.cf services)."""

    def __init__(self):
        self.added = []
        self.changed = []
        self.removed = []

    def __bool__(self):
        return bool(self.added or self.changed or self.removed)

    def names(self):
        return self.added + self.changed + self.removed

    def as_dict(self):
        return {'added': list(self.added), 'changed': list(self.changed), 'removed': list(self.removed)}


def apply_line_edits(lines, replace, drop, append):
    """New file text: ``replace`` maps a line index to text inserted before it, ``drop``
    holds indexes of lines to leave out, ``append`` is added at the end. Untouched
    lines stay byte for byte (main.cf and master.cf alike)."""
    out = []
    for index, line in enumerate(lines):
        if index in replace:
            out.append(replace[index])
        if index not in drop:
            out.append(line)
    if append:
        if out and not out[-1].endswith('\n'):
            out[-1] += '\n'
        out.extend(append)
    return ''.join(out)


def edit_main_cf(text, desired, mode='merge', keep=EXCLUSIVE_KEEP):
    """Apply ``desired`` to main.cf ``text``; return ``(new_text, EditChanges)``.

    ``desired`` maps parameter names to values (see render_value); the value
    None removes the parameter. In ``merge`` mode other parameters stay; in
    ``exclusive`` mode every parameter that is not declared is removed,
    except the names in ``keep``. Values are compared after whitespace
    normalisation, so a no-op edit returns ``text`` unchanged. Comments,
    blank lines and untouched entries keep every byte. A changed parameter is
    rewritten where its last definition was (earlier duplicates, which
    Postfix ignores with a warning, are dropped); a new one is appended.
    """
    if mode not in ('merge', 'exclusive'):
        raise PostfixConfigError('main_cf_mode', 'must be merge or exclusive, got %r' % (mode,))
    parsed = MainCf(text)
    changes = EditChanges()
    replace = {}      # first line index -> replacement text
    drop = set()      # physical line indexes to delete
    append = []

    def remove_entry(entry):
        drop.update(range(entry.first, entry.last + 1))

    for name, value in desired.items():
        check_parameter_name(name)
        found = parsed.occurrences(name)
        if value is None:
            if found:
                for entry in found:
                    remove_entry(entry)
                changes.removed.append(name)
            continue
        wanted = render_value(value, 'main_cf.%s' % name)
        if not found:
            append.append(format_parameter(name, value))
            changes.added.append(name)
            continue
        if normalize_value(found[-1].value) == normalize_value(wanted):
            continue
        for entry in found[:-1]:
            remove_entry(entry)
        last = found[-1]
        remove_entry(last)
        replace[last.first] = format_parameter(name, value)
        changes.changed.append(name)

    if mode == 'exclusive':
        seen = set()
        for entry in parsed.entries:
            if entry.name is None or entry.name in desired or entry.name in keep:
                continue
            remove_entry(entry)
            if entry.name not in seen:
                seen.add(entry.name)
                changes.removed.append(entry.name)

    if not changes:
        return parsed.text, changes

    return apply_line_edits(parsed.lines, replace, drop, append), changes
