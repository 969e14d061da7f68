# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converge one Postfix configuration directory: read -> plan -> stage -> validate -> commit.

Private to the collection. ``plan_changes`` is pure (file contents and
file attributes in, a Plan out). Everything that touches the host goes
through the ``host`` argument (see _postfix_host.LocalHost), so a no-op run
reads a few files and starts no process at all.

Validation runs on a staged copy of the whole new configuration: the live
files are replaced (maps, then master.cf, then main.cf, each by an atomic
rename) only after every check passed, and a failure during the commit
puts the previous files back.
"""

from __future__ import annotations

import json
import posixpath
import re

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import (
    EXCLUSIVE_KEEP,
    EditChanges,
    MainCf,
    PostfixConfigError,
    edit_main_cf,
    check_parameter_name,
    render_value,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_master import (
    SERVICE_TYPES,
    MasterCf,
    MasterService,
    edit_master_cf,
    service_from_spec,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_health import TLS_PAIRS, tls_problems
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import NoTerminal
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_maps import (
    MAP_TYPES,
    database_paths,
    default_mode,
    map_path,
    mask_map_text,
    changed_keys,
    parse_mode,
    render_map,
    secret_values,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_validate import (
    RESTART_PARAMETERS,
    check_interfaces,
    check_master_command,
    check_parameters,
    classify_warnings,
    parse_postconf,
    parse_postconf_services,
    protocols_of,
)

DEFAULT_FILE_MODE = 0o644
# The files a running instance still uses after a commit, until a health-checked
# reload proves the new ones serve (see keep_previous / restore_previous).
PREVIOUS_DIR = '.mailrelay-previous'
PREVIOUS_MANIFEST = 'manifest.json'
# SHA-256 of every database file this module built, by path: a database replaced or
# damaged behind its unchanged source is found by content, not by modification time.
MAP_DIGESTS = '.mailrelay-map-digests.json'
TLS_PARAMETERS = frozenset(name for pair in TLS_PAIRS for name in pair)
PROBE_KEY = 'mailrelay-validation-probe'


class ValidationFailed(Exception):
    """The staged configuration was refused; ``problems`` lists every reason."""

    def __init__(self, problems):
        super().__init__('; '.join(problems))
        self.problems = list(problems)


# ---------------------------------------------------------------------------
# Request
# ---------------------------------------------------------------------------

class MapRequest:
    """One item of the ``maps`` option, checked and rendered."""

    def __init__(self, position, spec, config_dir):
        where = 'maps[%d]' % position
        name = spec.get('name')
        if not isinstance(name, str) or not name.strip():
            raise PostfixConfigError(where, 'name is required')
        name = name.strip()
        if not posixpath.isabs(name) and '..' in name.split('/'):
            raise PostfixConfigError(where, 'a relative name must stay inside config_dir: %r' % name)
        self.name = name
        self.where = '%s (%s)' % (where, name)
        self.type = spec.get('type') or 'hash'
        if self.type not in MAP_TYPES:
            raise PostfixConfigError(self.where, 'type must be one of %s, got %r' % (', '.join(sorted(MAP_TYPES)), self.type))
        self.path = map_path(config_dir, name)
        self.state = spec.get('state') or 'present'
        self.secret = bool(spec.get('secret'))
        self.mode = parse_mode(spec.get('mode'), '%s mode' % self.where)
        if self.mode is None:
            self.mode = default_mode(self.secret)
        elif self.secret and self.mode & 0o077:
            raise PostfixConfigError('%s mode' % self.where, 'a secret map must not be readable by group or others (use 0600 or 0400)')
        self.owner = spec.get('owner') or 'root'
        self.group = spec.get('group') or 'root'
        self.uid = None
        self.gid = None
        entries = spec.get('entries')
        if self.state == 'present':
            if entries is None:
                raise PostfixConfigError(self.where, 'entries is required when state is present (use {} for an empty table)')
            self.text = render_map(self.type, entries, '%s entries' % self.where)
            self.secrets = secret_values(entries) if self.secret else []
        else:
            self.text = None
            self.secrets = []

    @property
    def kind(self):
        return MAP_TYPES[self.type]

    @property
    def databases(self):
        return database_paths(self.path, self.type)

    @property
    def files(self):
        return [self.path] + self.databases


class ConfigRequest:
    """Everything one convergence of one config directory needs, validated."""

    def __init__(self, config_dir, main_cf=None, main_cf_mode='merge', master_cf=None,
                 master_cf_mode='merge', maps=None, validate=True, allow_unused_parameters=False,
                 keep=EXCLUSIVE_KEEP):
        if not isinstance(config_dir, str) or not config_dir.startswith('/'):
            raise PostfixConfigError('config_dir', 'must be an absolute path, got %r' % (config_dir,))
        self.config_dir = posixpath.normpath(config_dir)
        if main_cf is not None and not isinstance(main_cf, dict):
            raise PostfixConfigError('main_cf', 'must be a dictionary of parameter names and values')
        self.main_cf = dict(main_cf) if main_cf is not None else None
        for name, value in (self.main_cf or {}).items():
            check_parameter_name(name)
            if value is not None:
                render_value(value, 'main_cf.%s' % name)
        self.main_cf_mode = main_cf_mode
        if main_cf_mode not in ('merge', 'exclusive'):
            raise PostfixConfigError('main_cf_mode', 'must be merge or exclusive')
        if main_cf_mode == 'exclusive' and self.main_cf is None:
            raise PostfixConfigError('main_cf_mode', 'exclusive needs main_cf (the complete set of parameters)')
        self.master_cf = None
        if master_cf is not None:
            if not isinstance(master_cf, list):
                raise PostfixConfigError('master_cf', 'must be a list of services')
            self.master_cf = []
            seen = set()
            for position, spec in enumerate(master_cf):
                if not isinstance(spec, dict):
                    raise PostfixConfigError('master_cf[%d]' % position, 'must be a dictionary')
                service = service_from_spec(spec, position)
                if service.key in seen:
                    raise PostfixConfigError('master_cf[%d]' % position, 'service %s is declared more than once' % service.label)
                seen.add(service.key)
                self.master_cf.append((service, spec.get('state') or 'present'))
        self.master_cf_mode = master_cf_mode
        if master_cf_mode not in ('merge', 'exclusive', 'listeners'):
            raise PostfixConfigError('master_cf_mode', 'must be merge, exclusive or listeners')
        if master_cf_mode in ('exclusive', 'listeners') and self.master_cf is None:
            raise PostfixConfigError('master_cf_mode', 'exclusive needs master_cf (the complete list of services)')
        self.maps = []
        seen_paths = {}
        for position, spec in enumerate(maps or []):
            if not isinstance(spec, dict):
                raise PostfixConfigError('maps[%d]' % position, 'must be a dictionary')
            request = MapRequest(position, spec, self.config_dir)
            for path in request.files:
                if path in seen_paths:
                    raise PostfixConfigError(request.where, 'writes %s, like %s' % (path, seen_paths[path]))
                seen_paths[path] = request.where
            self.maps.append(request)
        self.validate = bool(validate)
        self.allow_unused_parameters = bool(allow_unused_parameters)
        self.keep = tuple(keep)

    @classmethod
    def from_params(cls, params, config_dir=None, extra_main_cf=None, keep=EXCLUSIVE_KEEP):
        """Build from module parameters; ``extra_main_cf`` adds parameters owned by the caller."""
        main_cf = params.get('main_cf')
        if extra_main_cf:
            main_cf = dict(main_cf or {})
            for name, value in extra_main_cf.items():
                if name in main_cf and main_cf[name] is not None and extra_main_cf[name] is not None \
                        and render_value(main_cf[name], 'main_cf.%s' % name) != render_value(value, 'main_cf.%s' % name):
                    raise PostfixConfigError('main_cf.%s' % name, 'is managed by this module through its own options')
                main_cf[name] = value
        return cls(
            config_dir or params.get('config_dir'),
            main_cf=main_cf,
            main_cf_mode=params.get('main_cf_mode') or 'merge',
            master_cf=params.get('master_cf'),
            master_cf_mode=params.get('master_cf_mode') or 'merge',
            maps=params.get('maps'),
            validate=params.get('validate', True),
            allow_unused_parameters=params.get('allow_unused_parameters', False),
            keep=keep,
        )

    @property
    def main_path(self):
        return posixpath.join(self.config_dir, 'main.cf')

    @property
    def master_path(self):
        return posixpath.join(self.config_dir, 'master.cf')

    def secrets(self):
        values = []
        for request in self.maps:
            values.extend(request.secrets)
        return values


# ---------------------------------------------------------------------------
# Current state and plan (pure)
# ---------------------------------------------------------------------------

class FileState:
    """Text and attributes of one file as found on the host (text None: missing)."""

    def __init__(self, text=None, mode=None, uid=None, gid=None, mtime_ns=None, digest=None):
        self.digest = digest      # SHA-256 hex of the bytes (databases only)
        self.text = text
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime_ns = mtime_ns

    @property
    def exists(self):
        return self.mode is not None

    @classmethod
    def from_stat(cls, text, status):
        if status is None:
            return cls(text)
        return cls(text, status.st_mode & 0o7777, status.st_uid, status.st_gid, status.st_mtime_ns)


class CurrentState:
    def __init__(self, main, master, maps, map_digests=None):
        self.main = main          # FileState
        self.master = master      # FileState
        self.maps = maps          # [(source FileState, [database FileState])] in request order
        self.map_digests = map_digests or {}   # database path -> digest recorded when it was built


def read_state(host, request, main_text=None):
    """Read what the plan compares against: files and their attributes only.

    ``main_text``: main.cf as the caller has just read it (None: read it here).
    """
    if main_text is None:
        main_text = host.read(request.main_path)
    main = FileState.from_stat(main_text, host.stat(request.main_path))
    master = FileState.from_stat(host.read(request.master_path), host.stat(request.master_path))
    maps = []
    recorded = read_map_digests(host, request.config_dir) if any(item.databases for item in request.maps) else {}
    for item in request.maps:
        item.uid = host.uid(item.owner)
        item.gid = host.gid(item.group)
        source = FileState.from_stat(host.read(item.path), host.stat(item.path))
        databases = []
        for path in item.databases:
            database = FileState.from_stat(None, host.stat(path))
            if database.exists and path in recorded:
                database.digest = host.digest(path)
            databases.append(database)
        maps.append((source, databases))
    return CurrentState(main, master, maps, recorded)


def read_map_digests(host, config_dir):
    text = host.read(posixpath.join(config_dir, MAP_DIGESTS))
    try:
        recorded = json.loads(text) if text else {}
    except ValueError:
        return {}
    return recorded if isinstance(recorded, dict) else {}


class MapPlan:
    def __init__(self, request, source, databases, recorded=None):
        self.request = request
        self.before = source.text
        self.write = False        # the source text changes
        self.rebuild = False      # postmap must (re)build the database
        self.attributes = False   # only owner/mode need fixing
        self.remove = []          # files to delete
        self.drift = False        # a database no longer matches its unchanged source
        if request.state == 'absent':
            self.remove = [path for path, state in zip(request.files, [source] + databases) if state.exists]
            return
        self.write = source.text != request.text
        if request.kind.indexed:
            recorded = recorded or {}
            self.drift = not self.write and any(
                not db.exists
                or (path in recorded and db.digest != recorded[path])
                # Built before digests were recorded: only the modification time tells.
                or (path not in recorded and db.mtime_ns < (source.mtime_ns or 0))
                for path, db in zip(request.databases, databases))
            self.rebuild = self.write or self.drift
        wanted = (request.mode, request.uid, request.gid)
        if not (self.write or self.rebuild):
            self.attributes = any((state.mode, state.uid, state.gid) != wanted for state in [source] + databases)

    @property
    def changed(self):
        return bool(self.write or self.rebuild or self.attributes or self.remove)

    @property
    def needs_stage(self):
        # A removal is validated too: the new configuration must not refer to it.
        return self.write or self.rebuild or bool(self.remove)

    @property
    def builds(self):
        return self.write or self.rebuild


class Plan:
    """What one run changes; computed from the request and the current state only."""

    def __init__(self, request, state):
        self.request = request
        self.state = state
        self.main_before = state.main.text
        self.main_changes = EditChanges()
        self.main_after = state.main.text
        if request.main_cf is not None:
            self.main_after, self.main_changes = edit_main_cf(
                state.main.text or '', request.main_cf, request.main_cf_mode, request.keep)
            if not state.main.exists and not self.main_changes:
                self.main_after = None
        self.master_before = state.master.text
        self.master_changes = EditChanges()
        self.master_after = state.master.text
        if request.master_cf is not None:
            declared = request.master_cf
            mode = request.master_cf_mode
            if mode == 'listeners':
                # Every inet service not declared present goes: a listener that moved
                # to another port must not keep listening on the old one.
                wanted = set(service.key for service, item_state in declared if item_state == 'present')
                declared = declared + [(MasterService(service.service, 'inet'), 'absent')
                                       for service in MasterCf(state.master.text or '').services
                                       if service.type == 'inet' and service.key not in wanted
                                       and service.key not in set(item.key for item, _s in declared)]
                mode = 'merge'
            self.master_after, self.master_changes = edit_master_cf(state.master.text or '', declared, mode)
            if not state.master.exists and not self.master_changes:
                self.master_after = None
        self.maps = [MapPlan(item, source, databases, state.map_digests)
                     for item, (source, databases) in zip(request.maps, state.maps)]

    @property
    def main_changed(self):
        return self.main_after != self.main_before

    @property
    def master_changed(self):
        return self.master_after != self.master_before

    @property
    def changed(self):
        return self.main_changed or self.master_changed or any(item.changed for item in self.maps)

    @property
    def needs_stage(self):
        return self.main_changed or self.master_changed or any(item.needs_stage for item in self.maps)

    @property
    def restart_parameters(self):
        return [name for name in self.main_changes.names() if name in RESTART_PARAMETERS]

    @property
    def restart_needed(self):
        return bool(self.restart_parameters)

    @property
    def reload_needed(self):
        if self.main_changed or self.master_changed:
            return True
        # A database rebuilt because it had gone or changed behind its source:
        # daemons that failed to open it keep answering 451 until a reload.
        return any(((item.write or item.remove) and item.request.kind.reload) or item.drift for item in self.maps)

    def summary(self):
        maps = {'written': [], 'postmapped': [], 'removed': [], 'attributes': []}
        for item in self.maps:
            if item.write:
                maps['written'].append(item.request.path)
            if item.rebuild:
                maps['postmapped'].append(item.request.path)
            if item.remove:
                maps['removed'].append(item.request.path)
            if item.attributes:
                maps['attributes'].append(item.request.path)
        return {
            'main_cf': self.main_changes.as_dict(),
            'master_cf': self.master_changes.as_dict(),
            'maps': maps,
        }

    def diff(self):
        """Ansible diff items (one per changed file); secret map values are masked."""
        items = []
        if self.main_changed:
            items.append(_diff_item(self.request.main_path, self.main_before, self.main_after))
        if self.master_changed:
            items.append(_diff_item(self.request.master_path, self.master_before, self.master_after))
        for item in self.maps:
            if not (item.write or item.remove):
                continue
            before = item.before or ''
            after = item.request.text or ''
            if item.request.secret:
                keys = changed_keys(before, after)
                before = mask_map_text(before)
                after = mask_map_text(after, keys)
            items.append(_diff_item(item.request.path, before if item.before is not None else None, after if item.request.text else None))
        return items


def _diff_item(path, before, after):
    return {
        'before_header': path if before is not None else '%s (absent)' % path,
        'after_header': path if after is not None else '%s (absent)' % path,
        'before': before or '',
        'after': after or '',
    }


def plan_changes(request, state):
    return Plan(request, state)


# ---------------------------------------------------------------------------
# Stage, validate, commit (through the host)
# ---------------------------------------------------------------------------

class Stage:
    """A private directory holding the complete new configuration."""

    def __init__(self, host, plan, parent):
        self.host = host
        self.plan = plan
        self.path = host.make_stage(parent)
        self.main = posixpath.join(self.path, 'main.cf')
        self.master = posixpath.join(self.path, 'master.cf')
        self.maps = {}   # MapPlan index -> staged source path
        self.backups = posixpath.join(self.path, 'backup')
        self.main_text = ''     # what populate() wrote, so that checks need not read it back
        self.master_text = ''

    def populate(self):
        """Write the complete new configuration into the stage."""
        host = self.host
        plan = self.plan
        main_text = plan.main_after if plan.main_after is not None else plan.main_before
        self.main_text = main_text or ''
        host.write(self.main, self.main_text, 0o644)
        host.backdate(self.main)
        if plan.master_after is not None:
            self.master_text = plan.master_after
            host.write(self.master, self.master_text, 0o644)
            host.backdate(self.master)
        for index, item in enumerate(plan.maps):
            if item.builds:
                directory = posixpath.join(self.path, 'maps', str(index))
                host.makedirs(directory, 0o700)
                staged = posixpath.join(directory, posixpath.basename(item.request.path))
                host.write(staged, item.request.text, 0o600)
                self.maps[index] = staged

    def live(self, text):
        """Show live paths instead of staged ones in messages and values."""
        text = text.replace(self.path + '/check/', self.plan.request.config_dir + '/')
        return text.replace(self.path, self.plan.request.config_dir)

    def cleanup(self):
        self.host.remove_tree(self.path)


def _postconf_problem(stage, what, rc, err):
    _unused, _other, fatal = classify_warnings(err)
    detail = '; '.join(stage.live(line) for line in fatal) or stage.live(err.strip()) or 'exit status %d' % rc
    return 'postconf rejected the new %s: %s' % (what, detail)


def validate_stage(host, stage, full_check=True):
    """Run every check on the staged configuration; return warnings, raise ValidationFailed.

    ``full_check`` adds ``postfix check`` (it creates missing queue
    directories, so check mode leaves it out).
    """
    plan = stage.plan
    request = plan.request
    warnings = []
    problems = []
    postconf = host.command('postconf')

    # postconf itself dies on the first bad inet_interfaces address; check the
    # literal value first so that the message names the parameter.
    staged_main = MainCf(stage.main_text)
    interfaces = staged_main.get('inet_interfaces')
    if interfaces and '$' not in interfaces:
        early = check_interfaces('main_cf.inet_interfaces', interfaces, host.is_local_address, host.resolve,
                                 protocols_of(staged_main.get('inet_protocols')))
        if early:
            raise ValidationFailed(early)

    rc, out, err = host.run([postconf, '-c', stage.path, '-n', '-x'])
    unused, other, fatal = classify_warnings(err)
    if rc != 0 or fatal:
        raise ValidationFailed([_postconf_problem(stage, 'main.cf', rc, err)])
    warnings.extend(stage.live(line) for line in other)
    if unused:
        lines = [stage.live(line) for line in unused]
        if request.allow_unused_parameters:
            warnings.extend(lines)
        else:
            problems.append('postconf reports parameters that no Postfix program uses (a typo?): %s '
                            '(set allow_unused_parameters to accept them)' % '; '.join(lines))
    params = dict((name, stage.live(value)) for name, value in parse_postconf(out).items())
    params.pop('config_directory', None)

    rc, out, err = host.run([postconf, '-c', stage.path, '-P', '-x'])
    _unused, _other, fatal = classify_warnings(err)
    if rc != 0 or fatal:
        raise ValidationFailed(problems + [_postconf_problem(stage, 'master.cf', rc, err)])
    service_params = parse_postconf_services(out)

    rc, out, err = host.run([postconf, '-c', stage.path, '-h', '-x', 'daemon_directory'])
    daemon_directory = out.strip() if rc == 0 and out.strip() else '/usr/lib/postfix/sbin'

    provided = set()
    removed = set()
    for item in plan.maps:
        if item.request.state == 'present':
            provided.update(item.request.files)
        else:
            removed.update(item.request.files)

    problems.extend(check_parameters(params, host, provided, removed))
    for (service, service_type), overrides in sorted(service_params.items()):
        overrides = dict((name, stage.live(value)) for name, value in overrides.items())
        problems.extend(check_parameters(
            overrides, host, provided, removed, where_format='master_cf %s/%s -o %%s' % (service, service_type)))

    # Certificates and keys: matching, loadable, not expired (Postfix would
    # start, but every STARTTLS would fail).
    checked = set()
    problems.extend(tls_problems(params, host, checked=checked))
    for (service, service_type), overrides in sorted(service_params.items()):
        if TLS_PARAMETERS & set(overrides):
            merged = dict(params)
            merged.update((name, stage.live(value)) for name, value in overrides.items())
            problems.extend(tls_problems(merged, host, where_format='master_cf %s/%s -o %%s' % (service, service_type),
                                         checked=checked))

    staged_master = MasterCf(stage.master_text)
    for service in staged_master.services:
        where = 'master_cf %s' % service.label
        if service.type not in SERVICE_TYPES:
            problems.append('%s: unknown service type %s (use %s)' % (where, service.type, ', '.join(SERVICE_TYPES)))
        problems.extend(check_master_command(where, service.command, daemon_directory, host.exists))

    postmap = host.command('postmap')
    for index, staged in sorted(stage.maps.items()):
        item = plan.maps[index]
        kind = item.request.kind
        if kind.indexed:
            argv = [postmap, '-c', stage.path, '%s:%s' % (item.request.type, staged)]
        else:
            argv = [postmap, '-c', stage.path, '-q', PROBE_KEY, '%s:%s' % (item.request.type, staged)]
        rc, _out, err = host.run(argv)
        complaints = [line.strip() for line in err.splitlines() if line.strip()]
        if (kind.indexed and rc != 0) or (not kind.indexed and rc not in (0, 1)) or complaints:
            detail = '; '.join(complaints) or 'exit status %d' % rc
            detail = detail.replace(staged, item.request.path)
            problems.append('%s: postmap refused the table: %s' % (item.request.where, detail))

    if problems:
        raise ValidationFailed(problems)

    if full_check:
        problems.extend(_postfix_check(host, stage, params))
        if problems:
            raise ValidationFailed(problems)
    return warnings


def _postfix_check(host, stage, params):
    """``postfix check`` on a copy of the stage, on a pseudo-terminal.

    Postfix prints diagnostics on stderr only when it is a terminal, and
    postfix-script logs its own verdict to maillog_file: the copy logs to
    /dev/stdout instead, so the verdict is captured and the live log is not
    written. The staged files themselves stay as they are. Where no
    pseudo-terminal can be opened, the diagnostics are read from the logs
    instead (``_check_without_terminal``).
    """
    check_dir = posixpath.join(stage.path, 'check')
    host.makedirs(check_dir, 0o755)
    main_text = stage.main_text
    if params.get('maillog_file'):
        main_text, _changes = edit_main_cf(main_text, {'maillog_file': '/dev/stdout'})
    for name, text in (('main.cf', main_text), ('master.cf', stage.master_text)):
        host.write(posixpath.join(check_dir, name), text, 0o644)
        host.backdate(posixpath.join(check_dir, name))
    argv = [host.command('postfix'), '-c', check_dir, 'check']
    try:
        rc, output = host.run_tty(argv)
    except NoTerminal:
        rc, output = _check_without_terminal(host, stage, check_dir, argv)
    if rc == 0:
        return []
    lines = [stage.live(line.strip()) for line in output.splitlines()
             if line.strip() and ('fatal:' in line or 'error:' in line or 'panic:' in line)]
    if not lines:
        lines = [stage.live(line.strip()) for line in output.splitlines() if line.strip()][-5:]
    return ['postfix check failed: %s' % ('; '.join(lines) or 'exit status %d (no message)' % rc)]


# A line that the postfix command or postfix-script wrote ("NAME[pid]: fatal: ..."
# or "NAME/postfix-script[pid]: ..."), not one of a running daemon.
_CHECK_LOG_LINE = re.compile(r'\s[\w.-]+(/(postfix-script|post-install|postsuper|postlog))?\[\d+\]: ')


def _check_without_terminal(host, stage, check_dir, argv):
    """Run ``postfix check`` without a terminal; return ``(rc, diagnostics)`` read from the logs.

    Without a terminal Postfix writes its diagnostics only to the log. The
    copy logs to a file of its own (allowed by maillog_file_prefixes); but when
    the instance runs, its postlogd(8) takes the records and writes them to the
    instance's maillog_file, so the new lines of that log are read too.
    """
    own_log = posixpath.join(check_dir, 'postfix-check.log')
    main_text, _changes = edit_main_cf(stage.main_text, {'maillog_file': own_log, 'maillog_file_prefixes': check_dir})
    main_path = posixpath.join(check_dir, 'main.cf')
    host.remove(main_path)
    host.write(main_path, main_text, 0o644)
    host.backdate(main_path)
    instance_logs = []
    for text in (stage.plan.main_before, stage.main_text):
        path = stage.live(MainCf(text or '').get('maillog_file') or '')
        if path.startswith('/') and '$' not in path and path not in instance_logs:
            instance_logs.append(path)
    offsets = dict((path, host.file_size(path)) for path in instance_logs)
    rc, out, err = host.run(argv)
    output = [out, err, host.read_tail(own_log)]
    for path in instance_logs:
        output.extend(line for line in host.read_tail(path, offsets[path]).splitlines() if _CHECK_LOG_LINE.search(line))
    return rc, '\n'.join(part for part in output if part)


def _attributes_of(state, default_mode=DEFAULT_FILE_MODE):
    if state.exists:
        return state.mode, state.uid, state.gid
    return default_mode, 0, 0


def commit(host, stage, remember_previous=False):
    """Put the staged files live: maps, master.cf, main.cf; then removals.

    Every replaced file is first hard-linked into the stage; if anything
    fails, the previous files are put back and the error is raised again.
    """
    plan = stage.plan
    request = plan.request
    done = []   # (live path, backup path or None)
    host.makedirs(stage.backups, 0o700)

    def put(staged, live):
        backup = None
        if host.exists(live):
            backup = posixpath.join(stage.backups, str(len(done)))
            host.keep_copy(live, backup)
        host.replace(staged, live)
        done.append((live, backup))

    digests = dict(plan.state.map_digests)
    try:
        for index, staged in sorted(stage.maps.items()):
            item = plan.maps[index]
            wanted = item.request
            host.makedirs(posixpath.dirname(wanted.path), 0o755)
            staged_files = [staged] + [staged + suffix for suffix in wanted.kind.suffixes]
            # Owner and mode are set on the staged copies, after postmap and
            # before the rename: a secret database is never visible as 0644.
            for path in staged_files:
                host.set_attributes(path, wanted.mode, wanted.uid, wanted.gid)
            for path, live in zip(staged_files[1:], wanted.databases):
                digests[live] = host.digest(path)
            for path, live in zip(staged_files[1:], wanted.databases):
                put(path, live)
            if item.write or not host.exists(wanted.path):
                put(staged, wanted.path)
        if plan.master_changed:
            mode, uid, gid = _attributes_of(plan.state.master)
            host.set_attributes(stage.master, mode, uid, gid)
            put(stage.master, request.master_path)
        if plan.main_changed:
            mode, uid, gid = _attributes_of(plan.state.main)
            host.set_attributes(stage.main, mode, uid, gid)
            put(stage.main, request.main_path)
    except Exception:
        for live, backup in reversed(done):
            try:
                if backup:
                    host.replace(backup, live)
                else:
                    host.remove(live)
            except Exception:  # pylint: disable=broad-except
                pass
        raise
    removed = apply_attributes_only(host, plan, stage.backups if remember_previous else None)
    for item in plan.maps:
        for path in item.remove:
            digests.pop(path, None)
    if digests != plan.state.map_digests:
        _write_map_digests(host, request.config_dir, digests)
    if remember_previous:
        keep_previous(host, request.config_dir, done + removed)


def _write_map_digests(host, config_dir, digests):
    path = posixpath.join(config_dir, MAP_DIGESTS)
    staged = path + '.new'
    host.remove(staged)
    host.write(staged, json.dumps(digests, sort_keys=True, indent=1) + '\n', 0o600)
    host.replace(staged, path)


def apply_attributes_only(host, plan, backups=None):
    """The map changes that need no staging: removals and owner/mode fixes.

    With ``backups`` (a directory), every removed file is kept there first;
    returns ``[(live path, kept copy)]``.
    """
    kept = []
    for item in plan.maps:
        for path in item.remove:
            if backups is not None and host.exists(path):
                host.makedirs(backups, 0o700)
                copy = posixpath.join(backups, 'removed-%d' % len(kept))
                host.keep_copy(path, copy)
                kept.append((path, copy))
            host.remove(path)
        if item.attributes:
            for path in item.request.files:
                if host.exists(path):
                    host.set_attributes(path, item.request.mode, item.request.uid, item.request.gid)
    return kept


# ---------------------------------------------------------------------------
# The previous files, until the new ones are proven to serve
# ---------------------------------------------------------------------------

def previous_dir(config_dir):
    return posixpath.join(config_dir, PREVIOUS_DIR)


def _read_manifest(host, directory):
    text = host.read(posixpath.join(directory, PREVIOUS_MANIFEST))
    if not text:
        return {}
    try:
        manifest = json.loads(text)
    except ValueError:
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _write_manifest(host, directory, manifest):
    path = posixpath.join(directory, PREVIOUS_MANIFEST)
    staged = path + '.new'
    host.remove(staged)
    host.write(staged, json.dumps(manifest, sort_keys=True) + '\n', 0o600)
    host.replace(staged, path)


def keep_previous(host, config_dir, replaced):
    """Remember the files a commit replaced: ``replaced`` is ``[(live path, backup or None)]``.

    A path already remembered keeps its older copy: that is what the running
    master still uses when an earlier commit was never reloaded. None means
    the file did not exist before (a rollback removes it).
    """
    if not replaced:
        return
    directory = previous_dir(config_dir)
    host.makedirs(directory, 0o700)
    manifest = _read_manifest(host, directory)
    for live, backup in replaced:
        if live in manifest:
            continue
        if backup:
            name = str(len(manifest))
            host.replace(backup, posixpath.join(directory, name))
            manifest[live] = name
        else:
            manifest[live] = None
    _write_manifest(host, directory, manifest)


def has_previous(host, config_dir):
    return host.exists(posixpath.join(previous_dir(config_dir), PREVIOUS_MANIFEST))


def restore_previous(host, config_dir):
    """Put back every remembered file exactly (bytes, owner, mode); return the live paths restored."""
    directory = previous_dir(config_dir)
    manifest = _read_manifest(host, directory)
    restored = []
    # main.cf last, as a commit writes it: a reading Postfix never sees a
    # main.cf that names tables that are not back yet.
    for live in sorted(manifest, key=lambda path: (path.endswith('/main.cf'), path.endswith('/master.cf'), path)):
        name = manifest[live]
        if name is None:
            if host.remove(live):
                restored.append(live)
        elif host.exists(posixpath.join(directory, name)):
            host.replace(posixpath.join(directory, name), live)
            restored.append(live)
    host.remove_tree(directory)
    return restored


def drop_previous(host, config_dir):
    """The new files serve (or nothing runs them): forget the previous ones."""
    host.remove_tree(previous_dir(config_dir))


def converge(host, request, check_mode=False, want_diff=False, main_text=None, before_commit=None,
             remember_previous=False):
    """Bring ``request.config_dir`` to the requested configuration.

    Returns ``(plan, result)``; ``result`` holds the module return values.
    Raises ValidationFailed when the new configuration is refused (nothing
    live was changed) and PostfixConfigError / HostError for bad input or
    host failures. ``main_text`` is main.cf as the caller has just read it
    (None: read it here). ``before_commit(plan)``, when given, runs for a
    plan that changes something, before anything is staged; it raises
    ValidationFailed to refuse the plan. ``remember_previous``: keep the
    replaced files (keep_previous) so that a failed reload can put them back.
    """
    if not host.isdir(request.config_dir):
        raise PostfixConfigError('config_dir', '%s does not exist or is not a directory' % request.config_dir)
    plan = plan_changes(request, read_state(host, request, main_text))
    result = {
        'changed': plan.changed,
        'config_dir': request.config_dir,
        'reload_needed': plan.changed and plan.reload_needed,
        'restart_needed': plan.changed and plan.restart_needed,
        'restart_parameters': plan.restart_parameters,
        'validated': False,
        'warnings': [],
    }
    result.update(plan.summary())
    if want_diff and plan.changed:
        result['diff'] = plan.diff()
    if not plan.changed:
        return plan, result
    if before_commit is not None:
        before_commit(plan)
    if plan.needs_stage:
        # Check mode stages in the system temp directory, so that nothing
        # under config_dir is created even for a moment.
        stage = Stage(host, plan, None if check_mode else request.config_dir)
        try:
            stage.populate()
            if request.validate:
                result['warnings'].extend(validate_stage(host, stage, full_check=not check_mode))
                result['validated'] = True
            elif not check_mode:
                _postmap_only(host, stage)
            if not check_mode:
                commit(host, stage, remember_previous)
        finally:
            stage.cleanup()
    elif not check_mode:
        apply_attributes_only(host, plan)
    return plan, result


def _postmap_only(host, stage):
    """Build the staged databases when validation is switched off (postmap is still required)."""
    postmap = host.command('postmap')
    for index, staged in sorted(stage.maps.items()):
        item = stage.plan.maps[index]
        if item.request.kind.indexed:
            rc, _out, err = host.run([postmap, '-c', stage.path, '%s:%s' % (item.request.type, staged)])
            if rc != 0:
                raise ValidationFailed(['%s: postmap failed: %s' % (item.request.where, err.strip().replace(staged, item.request.path))])
