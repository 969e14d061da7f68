# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure model of Postfix ``master.cf``: parse, compare, render and edit services.

Private to the collection. A service entry is keyed by ``(service, type)``
and has the fields of master(5): private, unpriv, chroot, wakeup, maxproc,
command, then ``-o name=value`` overrides (also the Postfix 3 form
``-o { name = value with spaces }``) and the remaining command arguments.
Entries may span several lines; comments and blank lines are kept.
"""

from __future__ import annotations

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import (
    EditChanges,
    PostfixConfigError,
    apply_line_edits,
    check_parameter_name,
    logical_lines,
    normalize_value,
    render_value,
    split_lines,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._validate import has_line_break

SERVICE_TYPES = ('inet', 'unix', 'unix-dgram', 'fifo', 'pass')
OPTION_INDENT = '  '


def tokenize(text):
    """Split master.cf command text into tokens.

    Tokens are separated by whitespace; text inside ``{ }`` (which may nest)
    belongs to the token it appears in, so ``{ a b }`` is one token, as
    Postfix 3 reads it.
    """
    tokens = []
    position = 0
    length = len(text)
    while position < length:
        while position < length and text[position].isspace():
            position += 1
        if position >= length:
            break
        start = position
        depth = 0
        while position < length:
            char = text[position]
            if char == '{':
                depth += 1
            elif char == '}' and depth:
                depth -= 1
            elif char.isspace() and not depth:
                break
            position += 1
        tokens.append(text[start:position])
    return tokens


def unbrace(token):
    """Return the text of a ``{ ... }`` token without braces and outer spaces."""
    if len(token) >= 2 and token.startswith('{') and token.endswith('}'):
        return token[1:-1].strip()
    return token


def render_argument(text):
    return '{ %s }' % text if any(char.isspace() for char in text) else text


def render_option(name, value):
    if any(char.isspace() for char in value):
        return '-o { %s = %s }' % (name, value)
    return '-o %s=%s' % (name, value)


def normalize_flag(value, option):
    """Accept booleans, y/yes/true, n/no/false and ``-`` (default)."""
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'y' if value else 'n'
    text = str(value).strip().lower()
    if text in ('y', 'yes', 'true'):
        return 'y'
    if text in ('n', 'no', 'false'):
        return 'n'
    if text == '-':
        return '-'
    raise PostfixConfigError(option, 'must be y, n or - (default), got %r' % (value,))


def normalize_wakeup(value, option):
    if value is None:
        return '-'
    if isinstance(value, bool):
        raise PostfixConfigError(option, 'must be a number of seconds, optionally followed by ?, or -')
    text = str(value).strip()
    digits = text[:-1] if text.endswith('?') else text
    if text == '-' or digits.isdigit():
        return text
    raise PostfixConfigError(option, 'must be a number of seconds, optionally followed by ?, or -, got %r' % (value,))


def normalize_maxproc(value, option):
    if value is None:
        return '-'
    if isinstance(value, bool):
        raise PostfixConfigError(option, 'must be a number of processes or -')
    text = str(value).strip()
    if text == '-' or text.isdigit():
        return text
    raise PostfixConfigError(option, 'must be a number of processes or -, got %r' % (value,))


class MasterService:
    """One master.cf service entry."""

    __slots__ = ('service', 'type', 'private', 'unpriv', 'chroot', 'wakeup', 'maxproc',
                 'command', 'options', 'args', 'first', 'last')

    def __init__(self, service, service_type, private='-', unpriv='-', chroot='-', wakeup='-',
                 maxproc='-', command='', options=None, args=None, first=None, last=None):
        self.service = service
        self.type = service_type
        self.private = private
        self.unpriv = unpriv
        self.chroot = chroot
        self.wakeup = wakeup
        self.maxproc = maxproc
        self.command = command
        self.options = list(options or [])   # [(name, value)] in file order
        self.args = list(args or [])         # argument texts without braces
        self.first = first
        self.last = last

    @property
    def key(self):
        return (self.service, self.type)

    @property
    def label(self):
        return '%s/%s' % (self.service, self.type)

    def semantic(self):
        """What Postfix sees: used to decide whether an entry changed.

        The order of distinct ``-o`` names does not matter to Postfix; a
        repeated name keeps its last value, like Postfix does.
        """
        options = {}
        for name, value in self.options:
            options[name] = normalize_value(value)
        return (self.service, self.type, self.private, self.unpriv, self.chroot, self.wakeup,
                self.maxproc, self.command, tuple(sorted(options.items())),
                tuple(normalize_value(arg) for arg in self.args))

    def render(self):
        """Physical lines for this entry, newline terminated."""
        head = '%-9s %-5s %-7s %-7s %-7s %-7s %-7s %s' % (
            self.service, self.type, self.private, self.unpriv, self.chroot,
            self.wakeup, self.maxproc, self.command)
        lines = [head.rstrip() + '\n']
        for name, value in self.options:
            lines.append('%s%s\n' % (OPTION_INDENT, render_option(name, value)))
        if self.args:
            lines.append('%s%s\n' % (OPTION_INDENT, ' '.join(render_argument(arg) for arg in self.args)))
        return ''.join(lines)

    def __repr__(self):
        return 'MasterService(%r)' % (self.semantic(),)


def parse_service(text, first=None, last=None):
    """Parse the logical line of one entry; return None when it is malformed."""
    fields = text.split(None, 7)
    if len(fields) < 8:
        return None
    service, service_type = fields[0], fields[1]
    tokens = tokenize(fields[7])
    if not tokens:
        return None
    options = []
    args = []
    index = 1
    while index < len(tokens):
        token = tokens[index]
        option_text = None
        if token == '-o' and index + 1 < len(tokens):
            option_text = tokens[index + 1]
            index += 2
        elif token.startswith('-o') and len(token) > 2:
            option_text = token[2:]
            index += 1
        else:
            args.append(unbrace(token))
            index += 1
            continue
        name, sep, value = unbrace(option_text).partition('=')
        if not sep:
            args.extend(['-o', option_text])
            continue
        options.append((name.strip(), value.strip()))
    return MasterService(service, service_type, fields[2], fields[3], fields[4], fields[5], fields[6],
                         tokens[0], options, args, first, last)


class MasterCf:
    """Parsed master.cf that remembers every physical line."""

    def __init__(self, text=''):
        self.lines = split_lines(text or '')
        self.services = []
        self.malformed = []
        for logical in logical_lines(self.lines):
            service = parse_service(logical.text, logical.first, logical.last)
            if service is None:
                self.malformed.append(logical)
            else:
                self.services.append(service)

    @property
    def text(self):
        return ''.join(self.lines)

    def find(self, key):
        return [service for service in self.services if service.key == key]


def _refuse_line_breaks(value, where):
    """A -o value or argument is one token of one master.cf line: a line break there would
    silently become a blank (a different value), so it is refused."""
    if has_line_break(value):
        raise PostfixConfigError(where, 'must be one line: a line break cannot be written into a master.cf %s'
                                        % ('-o value' if 'options' in where else 'argument'))


def service_from_spec(spec, position=None):
    """Build a MasterService from one ``master_cf`` option item (a dict)."""
    where = 'master_cf[%s]' % position if position is not None else 'master_cf'
    service = spec.get('service')
    service_type = spec.get('type')
    if not isinstance(service, str) or not service or any(char.isspace() for char in service):
        raise PostfixConfigError(where, 'service must be a name without whitespace, got %r' % (service,))
    where = '%s (%s/%s)' % (where, service, service_type)
    if service_type not in SERVICE_TYPES:
        raise PostfixConfigError(where, 'type must be one of %s, got %r' % (', '.join(SERVICE_TYPES), service_type))
    if spec.get('state', 'present') == 'absent':
        return MasterService(service, service_type)
    command = spec.get('command')
    if not isinstance(command, str) or not command.strip() or any(char.isspace() for char in command.strip()):
        raise PostfixConfigError(where, 'command must be the daemon name (one word), got %r' % (command,))
    options = []
    for name, value in (spec.get('options') or {}).items():
        check_parameter_name(name, '%s options' % where)
        if value is None:
            raise PostfixConfigError('%s options.%s' % (where, name), 'a value is required (use an empty string for an empty value)')
        _refuse_line_breaks(value, '%s options.%s' % (where, name))
        text = render_value(value, '%s options.%s' % (where, name))
        if '{' in text or '}' in text:
            raise PostfixConfigError('%s options.%s' % (where, name), 'braces are not allowed in -o values')
        options.append((name, text))
    raw_args = spec.get('args') or []
    if isinstance(raw_args, str):
        raw_args = [unbrace(token) for token in tokenize(raw_args)]
    args = []
    for arg in raw_args:
        if isinstance(arg, (list, dict)) or arg is None:
            raise PostfixConfigError('%s args' % where, 'each argument must be a string')
        _refuse_line_breaks(arg, '%s args' % where)
        text = render_value(arg, '%s args' % where)
        if text == '':
            raise PostfixConfigError('%s args' % where, 'empty arguments are not allowed')
        if text.startswith('-o'):
            raise PostfixConfigError('%s args' % where, 'put -o overrides into options, not args: %r' % text)
        args.append(text)
    return MasterService(
        service, service_type,
        private=normalize_flag(spec.get('private'), '%s private' % where),
        unpriv=normalize_flag(spec.get('unpriv'), '%s unpriv' % where),
        chroot=normalize_flag(spec.get('chroot'), '%s chroot' % where),
        wakeup=normalize_wakeup(spec.get('wakeup'), '%s wakeup' % where),
        maxproc=normalize_maxproc(spec.get('maxproc'), '%s maxproc' % where),
        command=command.strip(), options=options, args=args)


def edit_master_cf(text, declared, mode='merge'):
    """Apply declared services to master.cf ``text``; return ``(new_text, EditChanges)``.

    ``declared`` is a list of ``(MasterService, state)``. A present service
    is the complete entry: when what Postfix would see differs, the entry is
    rewritten in place (or appended when new). ``absent`` removes it. In
    ``exclusive`` mode every service that is not declared present is
    removed. Unchanged entries, comments and blank lines keep every byte.
    """
    if mode not in ('merge', 'exclusive'):
        raise PostfixConfigError('master_cf_mode', 'must be merge or exclusive, got %r' % (mode,))
    parsed = MasterCf(text)
    changes = EditChanges()
    replace = {}
    drop = set()
    append = []
    seen = set()

    def remove_entry(entry):
        drop.update(range(entry.first, entry.last + 1))

    for wanted, state in declared:
        if wanted.key in seen:
            raise PostfixConfigError('master_cf', 'service %s is declared more than once' % wanted.label)
        seen.add(wanted.key)
        found = parsed.find(wanted.key)
        if state == 'absent':
            if found:
                for entry in found:
                    remove_entry(entry)
                changes.removed.append(wanted.label)
            continue
        if not found:
            append.append(wanted.render())
            changes.added.append(wanted.label)
            continue
        if len(found) == 1 and found[0].semantic() == wanted.semantic():
            continue
        for entry in found:
            remove_entry(entry)
        replace[found[-1].first] = wanted.render()
        changes.changed.append(wanted.label)

    if mode == 'exclusive':
        present = set(service.key for service, state in declared if state != 'absent')
        for entry in parsed.services:
            if entry.key in present or entry.key in seen:
                continue
            remove_entry(entry)
            if entry.label not in changes.removed:
                changes.removed.append(entry.label)

    if not changes:
        return parsed.text, changes
    return apply_line_edits(parsed.lines, replace, drop, append), changes
