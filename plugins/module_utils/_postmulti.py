# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Postfix instances: naming, discovery, postmulti(1) lifecycle and service control.

Private to the collection. The primary instance lives in /etc/postfix;
secondary instances are managed by postmulti(1), are named ``postfix-*``
and are listed in the primary's ``multi_instance_directories``. Discovery
reads main.cf files only; processes are started only for real changes.
Everything that touches the host goes through the ``host`` argument.
"""

from __future__ import annotations

import posixpath
import re

import json

from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import (
    MainCf,
    PostfixConfigError,
    normalize_value,
)
from ansible_collections.mailrelay.smtp.plugins.module_utils import _validate
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_master import MasterCf
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_validate import (
    RESTART_PARAMETERS,
    endpoint_clashes,
    listen_endpoints,
    split_list,
)

PRIMARY_NAME = 'postfix'
PRIMARY_CONFIG_DIR = '/etc/postfix'
# The compiled-in queue directory of the Debian, Ubuntu, Fedora and RHEL
# packages; main.cf overrides it when it sets queue_directory.
DEFAULT_QUEUE_DIRECTORY = '/var/spool/postfix'
SECONDARY_NAME = re.compile(r'^postfix-[A-Za-z0-9][A-Za-z0-9._-]*$')
# What the copies for chrooted services live in, under the queue directory
# (prepare_chroot); they are copies, so removing an instance may delete them.
CHROOT_COPIES = ('etc', 'lib', 'usr', 'dev')
# Files a chrooted service reads at run time (time zone, service ports,
# resolver, host names, NSS order), copied into the chroot as Debian's
# packaging does; a copy whose source is gone is removed.
CHROOT_FILES = ('etc/localtime', 'etc/services', 'etc/resolv.conf', 'etc/hosts', 'etc/host.conf',
                'etc/nsswitch.conf', 'etc/nss_mdns.config')
# NSS modules built into glibc need no copy; others (mdns, systemd...) go into lib/.
# The first line of a chroot resolver file written from an instance's own name servers
# (dns_servers): prepare_chroot keeps such a file instead of copying the host's over it.
RESOLVER_MARK = '# mailrelay.smtp: the name servers of this instance (dns_servers)'
RESOLVER_FILE = 'etc/resolv.conf'
# glibc reads at most three nameserver lines (MAXNS in resolv.h).
MAX_NAMESERVERS = 3
NSS_MODULE = re.compile(r'^libnss_(?!(compat|dns|files|hesiod)\.)[A-Za-z0-9_]+\.so\.2$')
CA_FILE = re.compile(r'^[0-9a-f]{8}\.[0-9]+$')
# Where Debian's and Ubuntu's packages put the postfix@ template unit.
SYSTEMD_TEMPLATES = ('/etc/systemd/system/postfix@.service', '/lib/systemd/system/postfix@.service',
                     '/usr/lib/systemd/system/postfix@.service')
QUEUE_SUBDIRS = ('maildrop', 'incoming', 'active', 'deferred', 'defer', 'hold', 'bounce',
                 'corrupt', 'saved', 'trace', 'flush')
# Written next to master.pid when this module starts an instance: the values
# of the parameters the master reads only at start-up, so that a later run
# knows the running master still needs a restart (for example when the
# previous run changed inet_interfaces and the restart never happened).
RESTART_STAMP = 'mailrelay-restart-parameters.json'
# postmulti -e create/destroy/init rewrite the primary main.cf
# (multi_instance_directories) by read-modify-write; two at once lose an
# update. Every run of the module that changes the set of instances or the
# primary main.cf holds this lock.
LOCK_PATH = '/run/mailrelay-postmulti.lock'
START_WAIT = (0.1, 40)    # poll interval (s), polls: at most 4 s
STOP_WAIT = (0.1, 100)    # at most 10 s


class InstanceError(Exception):
    """A lifecycle step failed; the message says which and why."""


def check_name(name):
    if name == PRIMARY_NAME:
        return
    # The one instance-name rule of the collection (_validate), secondary form only here.
    if not _validate.is_instance_name(name) or not SECONDARY_NAME.match(name):
        raise PostfixConfigError(
            'name', 'must be "postfix" (the primary instance) or "postfix-NAME" (letters, digits, ".", "_", "-"), '
                    'got %r' % (name,))


def is_primary(name):
    return name == PRIMARY_NAME


def _multi_instance_enabled(main):
    return (main.get('multi_instance_enable') or 'no').lower() in ('yes', 'true', '1', 'on')


class Instance:
    """What the host says about one instance (read from main.cf files only)."""

    def __init__(self, name, config_dir, main=None, exists=False):
        self.name = name
        self.config_dir = config_dir
        self.main = main if main is not None else MainCf('')
        self.exists = exists

    @property
    def primary(self):
        return is_primary(self.name)

    def parameter(self, name, default=None):
        return self.main.get(name, default)

    @property
    def queue_directory(self):
        return self.parameter('queue_directory') or DEFAULT_QUEUE_DIRECTORY

    @property
    def data_directory(self):
        return self.parameter('data_directory')

    @property
    def group(self):
        return self.parameter('multi_instance_group') or None

    @property
    def enabled(self):
        return self.primary or _multi_instance_enabled(self.main)

    @property
    def maillog_file(self):
        value = self.parameter('maillog_file') or ''
        return value if value.startswith('/') and '$' not in value else ''


def primary_main(host, primary_dir=PRIMARY_CONFIG_DIR):
    text = host.read(posixpath.join(primary_dir, 'main.cf'))
    return None if text is None else MainCf(text)


def multi_instance_ready(primary):
    """postmulti -e init has been run: wrapper set and management enabled."""
    if primary is None:
        return False
    return _multi_instance_enabled(primary) and bool(primary.get('multi_instance_wrapper'))


def find_instance(host, name, config_dir=None, primary_dir=PRIMARY_CONFIG_DIR):
    """Locate ``name``; ``config_dir`` is where a new secondary instance would go."""
    primary = primary_main(host, primary_dir)
    if is_primary(name):
        return Instance(name, primary_dir, primary, primary is not None)
    directories = split_list(primary.get('multi_instance_directories') or '') if primary else []
    wanted = config_dir or posixpath.join('/etc', name)
    ordered = sorted(directories, key=lambda directory: directory != wanted)
    for directory in ordered:
        text = host.read(posixpath.join(directory, 'main.cf'))
        if text is None:
            continue
        main = MainCf(text)
        if main.get('multi_instance_name') == name:
            return Instance(name, directory, main, True)
    return Instance(name, wanted, None, False)


def other_instances(host, name, primary_dir=PRIMARY_CONFIG_DIR):
    """``[(name, config_dir, MainCf, master.cf text)]`` of every instance except ``name``."""
    primary = primary_main(host, primary_dir)
    if primary is None:
        return []
    instances = [(PRIMARY_NAME, primary_dir, primary)]
    for directory in split_list(primary.get('multi_instance_directories') or ''):
        text = host.read(posixpath.join(directory, 'main.cf'))
        if text is not None:
            main = MainCf(text)
            instances.append((main.get('multi_instance_name') or directory, directory, main))
    return [(instance_name, directory, main, host.read(posixpath.join(directory, 'master.cf')) or '')
            for instance_name, directory, main in instances if instance_name != name]


def listen_clashes(host, name, main_text, master_text, primary_dir=PRIMARY_CONFIG_DIR):
    """Problems: addresses and ports this instance would bind that another instance binds too.

    Postfix sets SO_REUSEPORT on its listening sockets, so a second instance
    on the same address and port does not fail: the kernel silently spreads
    the connections over both. This check makes that an error.
    """
    mine = listen_endpoints(MainCf(main_text or '').parameters(), MasterCf(master_text or '').services,
                            host.port_number, host.resolve)
    if not mine:
        return []
    problems = []
    for other, directory, main, other_master in other_instances(host, name, primary_dir):
        theirs = listen_endpoints(main.parameters(), MasterCf(other_master).services, host.port_number, host.resolve)
        for address, port in endpoint_clashes(mine, theirs):
            problems.append(
                'main_cf.inet_interfaces: %s port %d is also bound by instance %s (%s); Postfix listens with '
                'SO_REUSEPORT, so both instances would silently share its connections'
                % ('every address' if address == '*' else address, port, other, directory))
    return problems


def bootstrap_primary_text(mail_version):
    """main.cf of a primary instance that exists only so that postmulti can work."""
    try:
        major_minor = tuple(int(part) for part in mail_version.split('.')[:2])
    except ValueError:
        major_minor = (0, 0)
    level = '3.6' if major_minor >= (3, 6) else '2'
    return (
        '# Primary Postfix instance written by mailrelay.smtp.postfix_instance because\n'
        '# there was none: postmulti(1) needs it to manage secondary instances. It\n'
        '# accepts no network mail (master_service_disable = inet).\n'
        'compatibility_level = %s\n'
        'master_service_disable = inet\n' % level
    )


def _run(host, argv, what):
    rc, out, err = host.run(argv)
    if rc != 0:
        detail = (err.strip() or out.strip() or 'exit status %d' % rc).replace('\n', '; ')
        raise InstanceError('%s failed: %s' % (what, detail))
    return out


def prepare_multi_instance(host, primary_dir=PRIMARY_CONFIG_DIR):
    """Make postmulti usable; return the list of actions taken.

    postmulti(1) always works on the compiled-in default configuration
    directory; ``primary_dir`` exists for tests that only look at files.
    """
    actions = []
    primary = primary_main(host, primary_dir)
    if primary is None:
        version = _run(host, [host.command('postconf'), '-d', '-h', 'mail_version'], 'postconf -d mail_version').strip()
        path = posixpath.join(primary_dir, 'main.cf')
        staged = path + '.mailrelay-new'
        host.remove(staged)
        host.write(staged, bootstrap_primary_text(version), 0o644)
        host.replace(staged, path)
        actions.append('wrote a minimal primary %s' % path)
        primary = primary_main(host, primary_dir)
    if not multi_instance_ready(primary):
        _run(host, [host.command('postmulti'), '-e', 'init'], 'postmulti -e init')
        actions.append('postmulti -e init')
    return actions


def create_instance(host, name, group=None, config_dir=None):
    argv = [host.command('postmulti'), '-e', 'create', '-I', name]
    if group:
        argv.extend(['-G', group])
    if config_dir and config_dir != posixpath.join('/etc', name):
        argv.append('config_directory=%s' % config_dir)
    _run(host, argv, 'postmulti -e create -I %s' % name)


def queued_messages(host, instance):
    queue = instance.queue_directory
    return sum(host.count_files(posixpath.join(queue, sub)) for sub in QUEUE_SUBDIRS)


def destroy_instance(host, instance):
    """Stop (already done by the caller), disable, clean up and destroy a secondary instance.

    postmulti refuses to destroy an instance whose private/ or public/
    directories still hold the sockets of the last run, and it leaves the
    chroot copies, pid and lock files behind; those are removed first. An
    instance with queued mail is never destroyed.
    """
    waiting = queued_messages(host, instance)
    if waiting:
        raise InstanceError('%s has %d queued file(s) under %s; deliver or delete them before removing the instance'
                            % (instance.name, waiting, instance.queue_directory))
    postmulti = host.command('postmulti')
    if instance.enabled:
        _run(host, [postmulti, '-e', 'disable', '-i', instance.name], 'postmulti -e disable -i %s' % instance.name)
    queue = instance.queue_directory
    for sub in ('private', 'public'):
        host.remove_sockets(posixpath.join(queue, sub))
    host.remove(posixpath.join(queue, 'pid', 'master.pid'))
    host.remove(posixpath.join(queue, 'pid', RESTART_STAMP))
    for copy in CHROOT_COPIES:
        host.remove_tree(posixpath.join(queue, copy))
    if instance.data_directory:
        host.remove(posixpath.join(instance.data_directory, 'master.lock'))
    _run(host, [postmulti, '-e', 'destroy', '-i', instance.name], 'postmulti -e destroy -i %s' % instance.name)
    left = []
    # What postmulti leaves: the directories of the instance itself (only
    # when their path carries the instance name, so that a shared directory
    # is never removed), and the maps this collection wrote.
    for directory in (instance.config_dir, instance.data_directory, queue):
        if directory and instance.name in posixpath.basename(directory.rstrip('/')) and host.exists(directory):
            host.remove_tree(directory)
            left.append(directory)
    return left


# -- service control ---------------------------------------------------------

def restart_values(instance):
    """The start-up-only parameters as main.cf sets them (normalised; '' when unset)."""
    return dict((name, normalize_value(instance.parameter(name) or '')) for name in RESTART_PARAMETERS)


def stamp_path(instance):
    return posixpath.join(instance.queue_directory, 'pid', RESTART_STAMP)


def write_restart_stamp(host, instance):
    path = stamp_path(instance)
    staged = path + '.new'
    host.remove(staged)
    host.write(staged, json.dumps(restart_values(instance), sort_keys=True) + '\n', 0o644)
    host.replace(staged, path)


def pending_restart(host, running_instance, configured):
    """Start-up-only parameters whose configured value differs from what the running master started with.

    Empty when the master was not started by this module: no stamp, or a
    master.pid newer than the stamp (someone restarted it since).
    """
    stamp = host.stat(stamp_path(running_instance))
    pid = host.stat(posixpath.join(running_instance.queue_directory, 'pid', 'master.pid'))
    if stamp is None or pid is None or pid.st_mtime_ns > stamp.st_mtime_ns:
        return []
    text = host.read(stamp_path(running_instance))
    if not text:
        return []
    try:
        started_with = json.loads(text)
    except ValueError:
        return []
    wanted = restart_values(configured)
    return [name for name in RESTART_PARAMETERS if name in started_with and started_with[name] != wanted[name]]


def running_pid(host, instance):
    return host.master_running(instance.queue_directory)


def _wait(host, instance, want_running, interval_polls):
    interval, polls = interval_polls
    for _attempt in range(polls):
        if bool(running_pid(host, instance)) == want_running:
            return True
        host.sleep(interval)
    return bool(running_pid(host, instance)) == want_running


def log_excerpt(host, instance, offset, lines=12):
    """Lines of the instance's maillog_file written since ``offset`` that explain a failure."""
    path = instance.maillog_file
    if not path:
        return 'maillog_file is not set; see the system log of %s' % instance.name
    text = host.read_tail(path, offset)
    interesting = [line for line in text.splitlines()
                   if any(word in line for word in ('fatal:', 'error:', 'panic:', 'warning:'))]
    chosen = interesting[-lines:] or text.splitlines()[-lines:]
    if not chosen:
        return '%s has no new lines' % path
    return '%s: %s' % (path, ' | '.join(line.strip() for line in chosen))


# -- chroot and start-up ------------------------------------------------------

def _compatibility_level(instance):
    match = re.match(r'^\s*([0-9]+)', instance.parameter('compatibility_level') or '0')
    return int(match.group(1)) if match else 0


def chrooted_services(instance, master_text):
    """Labels of the master.cf services that run chrooted.

    ``-`` means chrooted only below compatibility_level 1 (Postfix 3.0 changed
    the default to n and keeps the old one for backwards compatibility).
    """
    default_chrooted = _compatibility_level(instance) < 1
    return [service.label for service in MasterCf(master_text or '').services
            if service.chroot == 'y' or (service.chroot == '-' and default_chrooted)]


def _multiarch_dirs(host, root):
    found = []
    for parent in ('usr/lib', 'lib'):
        base = posixpath.join(root, parent)
        for name in host.listdir(base):
            path = posixpath.join(base, name)
            if '-linux-' in name and host.isdir(path) and not host.islink(path) and path not in found:
                found.append(path)
    return found


def prepare_chroot(host, instance, root='/'):
    """Copy into the queue directory what the instance's chrooted services read; return the paths changed.

    This is what Debian's configure-instance.sh did before a start (Debian 12
    runs it from its init script and unit, Debian 13 from ``postfix check``
    only, and refuses to run it by hand): here it is done the same way for
    every release, and only when a service runs chrooted. ``root`` is where
    the source files are read (tests point it elsewhere).
    """
    master_text = host.read(posixpath.join(instance.config_dir, 'master.cf'))
    if not chrooted_services(instance, master_text):
        return []
    queue = instance.queue_directory
    changed = []
    for relative in CHROOT_FILES:
        source = posixpath.join(root, relative)
        copy = posixpath.join(queue, relative)
        if relative == RESOLVER_FILE and own_resolver(host, instance):
            continue
        if host.isfile(source):
            if host.sync_file(source, copy, 0o644):
                changed.append(copy)
        elif host.remove(copy):
            changed.append(copy)
    for directory in _multiarch_dirs(host, root):
        for name in host.listdir(directory):
            if NSS_MODULE.match(name) and host.sync_file(posixpath.join(directory, name), posixpath.join(queue, 'lib', name), 0o644):
                changed.append(posixpath.join(queue, 'lib', name))
    for parameter in ('smtp_tls_CApath', 'smtpd_tls_CApath'):
        ca_dir = (instance.parameter(parameter) or '').rstrip('/')
        if not ca_dir.startswith('/') or '$' in ca_dir or ca_dir.startswith(queue.rstrip('/') + '/'):
            continue
        source_dir = posixpath.join(root, ca_dir.lstrip('/'))
        copy_dir = posixpath.join(queue, ca_dir.lstrip('/'))
        wanted = [name for name in host.listdir(source_dir) if CA_FILE.match(name) and host.isfile(posixpath.join(source_dir, name))]
        for name in wanted:
            if host.sync_file(posixpath.join(source_dir, name), posixpath.join(copy_dir, name), 0o644):
                changed.append(posixpath.join(copy_dir, name))
        for name in host.listdir(copy_dir):
            if name not in wanted and host.remove(posixpath.join(copy_dir, name)):
                changed.append(posixpath.join(copy_dir, name))
    # Cyrus SASL looks for its configuration here inside the chroot.
    sasl_dir = posixpath.join(queue, 'usr/lib/sasl2')
    if not host.isdir(sasl_dir):
        host.makedirs(sasl_dir, 0o755)
        changed.append(sasl_dir)
    return changed


def resolver_text(dns_servers):
    """The chroot's resolv.conf for an instance's own name servers."""
    return RESOLVER_MARK + '\n' + ''.join('nameserver %s\n' % server for server in dns_servers)


def own_resolver(host, instance):
    """The chroot's resolv.conf when it was written from the instance's dns_servers, else None."""
    text = host.read(posixpath.join(instance.queue_directory, RESOLVER_FILE))
    return text if text is not None and text.startswith(RESOLVER_MARK + '\n') else None


def sync_resolver(host, instance, dns_servers, check_mode=False, root='/'):
    """Make the resolver file of the instance's chrooted services follow ``dns_servers``.

    A list names the instance's own name servers; an empty list puts the
    host's resolv.conf back where an own file was; None leaves the file alone
    (a reload handler passes no dns_servers). Returns ``(before, after)``
    texts when the file changes (or would, in check mode), else None.
    """
    if dns_servers is None:
        return None
    path = posixpath.join(instance.queue_directory, RESOLVER_FILE)
    before = host.read(path)
    if dns_servers:
        after = resolver_text(dns_servers)
        if before == after:
            return None
        if not check_mode:
            _write_resolver(host, path, after)
        return before or '', after
    if own_resolver(host, instance) is None:
        return None
    source = posixpath.join(root, RESOLVER_FILE)
    after = host.read(source) if host.isfile(source) else ''
    if not check_mode:
        if host.isfile(source):
            host.sync_file(source, path, 0o644)
        else:
            host.remove(path)
    return before, after or ''


def _write_resolver(host, path, text):
    host.makedirs(posixpath.dirname(path), 0o755)
    staged = path + '.mailrelay-new'
    host.remove(staged)
    host.write(staged, text, 0o644)
    host.replace(staged, path)


def _keep_own_resolver(host, instance, text):
    """Put the instance's own resolver file (``text``, read before a start or reload) back.

    Debian 13's ``postfix start`` runs its configure-instance step, which
    copies the host's resolv.conf over the chroot's; without this, a hub
    restarted by anyone would silently resolve through the host's servers.
    """
    if text is None:
        return
    path = posixpath.join(instance.queue_directory, RESOLVER_FILE)
    if host.read(path) != text:
        _write_resolver(host, path, text)


def _systemd_escape(text):
    """systemd-escape(1) of an instance string made of letters, digits, '.', '_' and '-'."""
    escaped = text.replace('\\', '\\x5c').replace('-', '\\x2d')
    return '\\x2e' + escaped[1:] if escaped.startswith('.') else escaped


def systemd_unit(host, instance):
    """The postfix@ unit that runs ``instance`` on this host, or None: no systemd, no template, or not ours.

    Debian 12's template takes the instance name (``postfix@postfix-NAME``,
    postmulti -i %i); Debian 13's takes the part after ``postfix-`` and only
    serves /etc/postfix-NAME (MAIL_CONFIG=/etc/postfix-%I).
    """
    if instance.primary or not host.isdir('/run/systemd/system'):
        return None
    for path in SYSTEMD_TEMPLATES:
        text = host.read(path)
        if text:
            break
    else:
        return None
    if 'MAIL_CONFIG=/etc/postfix-%I' in text:
        if instance.config_dir.rstrip('/') != posixpath.join('/etc', instance.name):
            return None
        return 'postfix@%s.service' % _systemd_escape(instance.name[len('postfix-'):])
    if 'postmulti -i %i' in text:
        return 'postfix@%s.service' % instance.name
    return None


def start(host, instance, root='/'):
    """Prepare the chroot and start the instance's master(8): through its postfix@ unit under systemd,
    otherwise directly; surface the log when it does not come up."""
    offset = host.file_size(instance.maillog_file) if instance.maillog_file else 0
    prepare_chroot(host, instance, root)
    own = own_resolver(host, instance)
    unit = systemd_unit(host, instance)
    argv = ['systemctl', 'start', unit] if unit else [host.command('postfix'), '-c', instance.config_dir, 'start']
    rc, out, err = host.run(argv)
    _keep_own_resolver(host, instance, own)
    if rc == 0 and _wait(host, instance, True, START_WAIT):
        write_restart_stamp(host, instance)
        return
    said = (err.strip() or out.strip()).replace('\n', ' | ')
    raise InstanceError('%s failed (exit status %d)%s; %s%s' % (
        ' '.join([posixpath.basename(argv[0])] + argv[1:]), rc, ': %s' % said if said else ' without a message',
        log_excerpt(host, instance, offset), ''.join('; %s' % problem for problem in listener_problems(host, instance))))


def listener_problems(host, instance):
    """After a failed start: the instance's listen addresses and ports that cannot be bound, and why.

    Postfix 3.10's master(8) logs only through postlogd(8), which is not
    running yet when binding a listener fails, so that reason reaches no log
    (Postfix 3.7 wrote it to maillog_file directly); a bind test tells it.
    """
    if running_pid(host, instance):
        return []
    master_text = host.read(posixpath.join(instance.config_dir, 'master.cf')) or ''
    endpoints = listen_endpoints(instance.main.parameters(), MasterCf(master_text).services, host.port_number, host.resolve)
    problems = []
    for address, port in sorted(endpoints, key=lambda item: (item[1], item[0])):
        error = host.bind_error(address, port)
        if error:
            where = '%s:%d' % ('[%s]' % address if ':' in address else address, port)
            problems.append('%s cannot be bound: %s%s' % (
                where, error, ' (another process listens there)' if 'in use' in error else ''))
    return problems


def stop(host, instance):
    unit = systemd_unit(host, instance)
    if unit and host.run(['systemctl', 'is-active', '--quiet', unit])[0] == 0:
        argv = ['systemctl', 'stop', unit]
    else:
        # Not started through its unit (or no systemd): stop the master directly.
        argv = [host.command('postfix'), '-c', instance.config_dir, 'stop']
    rc, out, err = host.run(argv)
    if not _wait(host, instance, False, STOP_WAIT):
        raise InstanceError('%s did not stop the master process (exit status %d): %s' % (
            ' '.join([posixpath.basename(argv[0])] + argv[1:]), rc, (err or out).strip()))


def reload(host, instance):
    offset = host.file_size(instance.maillog_file) if instance.maillog_file else 0
    own = own_resolver(host, instance)
    rc, out, err = host.run([host.command('postfix'), '-c', instance.config_dir, 'reload'])
    _keep_own_resolver(host, instance, own)
    if rc != 0:
        raise InstanceError('postfix -c %s reload failed: %s; %s' % (
            instance.config_dir, (err or out).strip(), log_excerpt(host, instance, offset)))
