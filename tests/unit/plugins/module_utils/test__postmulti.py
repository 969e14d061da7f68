# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Instance discovery and lifecycle decisions, on real files under tmp_path.

Commands that would act on the machine's real Postfix (postmulti) are
recorded by the run_command handed to the host adapter instead of being run;
the integration targets run them for real.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _postmulti as postmulti
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_config import MainCf, PostfixConfigError
from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_host import LocalHost


class Recorder:
    """run_command that records every command and answers from a table."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or {}

    def __call__(self, argv, data=None):
        self.calls.append(argv)
        for word, answer in self.answers.items():
            if word in argv:
                return answer
        return 0, '', ''


class Host(LocalHost):
    def command(self, name):
        return name


@pytest.mark.parametrize('name', ['postfix', 'postfix-a', 'postfix-it-1.x_y'])
def test_good_names(name):
    postmulti.check_name(name)


@pytest.mark.parametrize('name', ['', 'postfix-', 'relay', 'postfix-a b', 'postfix-/etc', None])
def test_bad_names(name):
    with pytest.raises(PostfixConfigError) as info:
        postmulti.check_name(name)
    assert info.value.option == 'name'


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)


def test_find_instances_through_the_primary(tmp_path):
    primary = str(tmp_path / 'postfix')
    other = str(tmp_path / 'elsewhere')
    write(primary + '/main.cf', 'multi_instance_enable = yes\nmulti_instance_wrapper = postmulti -p --\n'
                                'multi_instance_directories = %s/postfix-a, %s\n' % (tmp_path, other))
    write(str(tmp_path / 'postfix-a/main.cf'),
          'multi_instance_name = postfix-a\nmulti_instance_enable = yes\nqueue_directory = /var/spool/postfix-a\nmulti_instance_group = g\n')
    write(other + '/main.cf', 'multi_instance_name = postfix-b\nmaillog_file = /var/log/b.log\n')
    host = Host(Recorder())
    found = postmulti.find_instance(host, 'postfix-a', primary_dir=primary)
    assert (found.exists, found.config_dir, found.enabled, found.group, found.queue_directory) == \
        (True, str(tmp_path / 'postfix-a'), True, 'g', '/var/spool/postfix-a')
    moved = postmulti.find_instance(host, 'postfix-b', primary_dir=primary)
    assert (moved.exists, moved.config_dir, moved.enabled, moved.maillog_file) == (True, other, False, '/var/log/b.log')
    missing = postmulti.find_instance(host, 'postfix-c', primary_dir=primary)
    assert (missing.exists, missing.config_dir) == (False, '/etc/postfix-c')
    main = postmulti.find_instance(host, 'postfix', primary_dir=primary)
    assert (main.exists, main.config_dir, main.enabled, main.queue_directory) == (True, primary, True, '/var/spool/postfix')
    assert host._run_command.calls == []


def test_prepare_bootstraps_a_missing_primary_then_inits(tmp_path):
    primary = str(tmp_path / 'postfix')
    os.makedirs(primary)
    recorder = Recorder({'mail_version': (0, '3.7.11\n', '')})
    actions = postmulti.prepare_multi_instance(Host(recorder), primary_dir=primary)
    assert actions == ['wrote a minimal primary %s/main.cf' % primary, 'postmulti -e init']
    params = MainCf(open(primary + '/main.cf').read()).parameters()
    assert params == {'compatibility_level': '3.6', 'master_service_disable': 'inet'}
    assert recorder.calls[-1] == ['postmulti', '-e', 'init']


def test_prepare_does_nothing_when_ready(tmp_path):
    primary = str(tmp_path / 'postfix')
    write(primary + '/main.cf', 'multi_instance_enable = yes\nmulti_instance_wrapper = ${command_directory}/postmulti -p --\n')
    recorder = Recorder()
    assert postmulti.prepare_multi_instance(Host(recorder), primary_dir=primary) == []
    assert recorder.calls == []


@pytest.mark.parametrize('version, level', [('3.7.11', '3.6'), ('3.6.0', '3.6'), ('3.5.6', '2'), ('junk', '2')])
def test_bootstrap_compatibility_level(version, level):
    assert MainCf(postmulti.bootstrap_primary_text(version)).get('compatibility_level') == level


def test_failed_command_raises_with_its_message():
    recorder = Recorder({'create': (1, '', 'postmulti: fatal: instance already exists\n')})
    with pytest.raises(postmulti.InstanceError) as info:
        postmulti.create_instance(Host(recorder), 'postfix-a', 'grp')
    assert 'instance already exists' in str(info.value)
    assert recorder.calls == [['postmulti', '-e', 'create', '-I', 'postfix-a', '-G', 'grp']]


def test_destroy_refuses_an_instance_with_queued_mail(tmp_path):
    queue = tmp_path / 'spool'
    write(str(queue / 'deferred' / 'A' / 'ABC123'), 'queued message')
    instance = postmulti.Instance('postfix-a', str(tmp_path / 'etc'), MainCf('queue_directory = %s\n' % queue), True)
    recorder = Recorder()
    with pytest.raises(postmulti.InstanceError) as info:
        postmulti.destroy_instance(Host(recorder), instance)
    assert '1 queued file' in str(info.value)
    assert recorder.calls == []


def test_destroy_cleans_what_postmulti_trips_over(tmp_path):
    import socket
    queue = tmp_path / 'postfix-a-spool'
    config = tmp_path / 'postfix-a'
    data = tmp_path / 'postfix-a-data'
    for sub in ('private', 'public', 'pid', 'etc', 'deferred'):
        (queue / sub).mkdir(parents=True)
    config.mkdir()
    data.mkdir()
    write(str(config / 'transport'), 'x y\n')
    write(str(queue / 'pid' / 'master.pid'), '123\n')
    write(str(queue / 'etc' / 'resolv.conf'), 'nameserver 127.0.0.1\n')
    write(str(data / 'master.lock'), '123\n')
    os.mkfifo(str(queue / 'public' / 'pickup'))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(queue / 'private' / 'smtp'))
    sock.close()
    instance = postmulti.Instance('postfix-a', str(config), MainCf(
        'queue_directory = %s\ndata_directory = %s\nmulti_instance_enable = yes\n' % (queue, data)), True)
    recorder = Recorder()
    left = postmulti.destroy_instance(Host(recorder), instance)
    assert recorder.calls == [['postmulti', '-e', 'disable', '-i', 'postfix-a'], ['postmulti', '-e', 'destroy', '-i', 'postfix-a']]
    assert left == [str(config), str(data), str(queue)]
    assert not config.exists() and not queue.exists() and not data.exists()


def test_running_pid_checks_the_working_directory(tmp_path):
    queue = tmp_path / 'queue'
    (queue / 'pid').mkdir(parents=True)
    instance = postmulti.Instance('postfix-a', '/etc/postfix-a', MainCf('queue_directory = %s\n' % queue), True)
    host = Host(Recorder())
    assert postmulti.running_pid(host, instance) is None
    process = subprocess.Popen(['sleep', '30'], cwd=str(queue))
    try:
        write(str(queue / 'pid' / 'master.pid'), '%10d\n' % process.pid)
        assert postmulti.running_pid(host, instance) == process.pid
        elsewhere = postmulti.Instance('postfix-b', '/etc/postfix-b', MainCf('queue_directory = %s\n' % tmp_path), True)
        write(str(tmp_path / 'pid' / 'master.pid'), '%d\n' % process.pid)
        assert postmulti.running_pid(host, elsewhere) is None     # stale pid of another master
    finally:
        process.kill()
        process.wait()
    assert postmulti.running_pid(host, instance) is None


def test_start_failure_quotes_the_new_log_lines(tmp_path):
    log = tmp_path / 'var' / 'postfix-a.log'
    write(str(log), 'Nov 28 00:00:00 old line: fatal: from an earlier run\n')
    instance = postmulti.Instance('postfix-a', str(tmp_path), MainCf('queue_directory = %s\nmaillog_file = %s\n' % (tmp_path, log)), True)

    class Failing(Host):
        def run(self, argv, data=None, env=None):
            if argv[-1] == 'start':
                with open(str(log), 'a') as handle:
                    handle.write('Nov 28 00:00:01 postfix-a/master[1]: fatal: bind 127.0.2.9 port 25: Cannot assign requested address\n')
                return 1, '', ''
            return 0, '', ''

        @staticmethod
        def sleep(seconds):
            return None

    with pytest.raises(postmulti.InstanceError) as info:
        postmulti.start(Failing(Recorder()), instance)
    message = str(info.value)
    assert 'postfix -c %s start failed (exit status 1) without a message' % tmp_path in message
    assert 'Cannot assign requested address' in message
    assert 'earlier run' not in message


def test_log_excerpt_without_maillog_file():
    instance = postmulti.Instance('postfix-a', '/etc/postfix-a', MainCf(''), True)
    assert 'maillog_file is not set' in postmulti.log_excerpt(Host(Recorder()), instance, 0)


def test_pending_restart_is_remembered_until_the_master_restarts(tmp_path):
    queue = tmp_path / 'queue'
    (queue / 'pid').mkdir(parents=True)
    write(str(queue / 'pid' / 'master.pid'), '123\n')
    os.utime(str(queue / 'pid' / 'master.pid'), (1000, 1000))
    host = Host(Recorder())
    running = postmulti.Instance('postfix-a', str(tmp_path), MainCf('queue_directory = %s\ninet_interfaces = 127.0.2.1\n' % queue), True)
    moved = postmulti.Instance('postfix-a', str(tmp_path), MainCf('queue_directory = %s\ninet_interfaces = 127.0.2.2\n' % queue), True)
    assert postmulti.pending_restart(host, running, moved) == []          # no stamp: unknown, say nothing
    postmulti.write_restart_stamp(host, running)
    assert postmulti.pending_restart(host, running, running) == []
    assert postmulti.pending_restart(host, running, moved) == ['inet_interfaces']
    os.utime(str(queue / 'pid' / 'master.pid'))                          # restarted by someone else since
    assert postmulti.pending_restart(host, running, moved) == []


def test_listen_clashes_with_other_instances(tmp_path):
    primary = str(tmp_path / 'postfix')
    write(primary + '/main.cf', 'master_service_disable = inet\nmulti_instance_directories = %s/postfix-a %s/postfix-b\n'
          % (tmp_path, tmp_path))
    write(primary + '/master.cf', 'smtp inet n - y - - smtpd\n')
    for name, address in (('postfix-a', '127.0.2.1'), ('postfix-b', '127.0.2.2')):
        write(str(tmp_path / name / 'main.cf'), 'multi_instance_name = %s\ninet_interfaces = %s\n' % (name, address))
        write(str(tmp_path / name / 'master.cf'), 'smtp inet n - y - - smtpd\n')
    host = Host(Recorder())
    master = 'smtp inet n - y - - smtpd\n'
    assert postmulti.listen_clashes(host, 'postfix-a', 'inet_interfaces = 127.0.2.1\n', master, primary_dir=primary) == []
    problems = postmulti.listen_clashes(host, 'postfix-c', 'inet_interfaces = 127.0.2.2\n', master, primary_dir=primary)
    assert problems == ['main_cf.inet_interfaces: 127.0.2.2 port 25 is also bound by instance postfix-b (%s/postfix-b); '
                        'Postfix listens with SO_REUSEPORT, so both instances would silently share its connections' % tmp_path]
    everywhere = postmulti.listen_clashes(host, 'postfix-c', 'inet_interfaces = all\n', master, primary_dir=primary)
    assert len(everywhere) == 2      # the primary listens on nothing (master_service_disable = inet)


# -- chroot preparation and start-up without Debian's configure-instance.sh ----

MASTER_CHROOTED = 'smtp inet n - y - - smtpd\npickup unix n - y 60 1 pickup\n'
MASTER_UNCHROOTED = 'smtp inet n - n - - smtpd\npickup unix n - - 60 1 pickup\n'


def fake_root(tmp_path):
    """A source tree like / with the files Postfix's chroot needs, an NSS module and a CA directory."""
    root = tmp_path / 'root'
    for relative, text in (('etc/resolv.conf', 'nameserver 127.0.0.53\n'), ('etc/hosts', '127.0.0.1 localhost\n'),
                           ('etc/services', 'smtp 25/tcp\n'), ('etc/nsswitch.conf', 'hosts: files dns\n'),
                           ('usr/share/zoneinfo/UTC', 'TZif2-binary\x00\xff'),
                           ('usr/lib/x86_64-linux-gnu/libnss_mdns4_minimal.so.2', 'ELF mdns'),
                           ('usr/lib/x86_64-linux-gnu/libnss_files.so.2', 'ELF files (built into glibc)'),
                           ('usr/lib/x86_64-linux-gnu/libc.so.6', 'ELF libc'),
                           ('etc/ssl/certs/0123abcd.0', 'CA one'), ('etc/ssl/certs/readme.txt', 'not a CA')):
        write(str(root / relative), text)
    os.symlink(str(root / 'usr/share/zoneinfo/UTC'), str(root / 'etc' / 'localtime'))
    return root


def chroot_instance(tmp_path, master, main_extra=''):
    config_dir = tmp_path / 'etc-postfix-a'
    queue = tmp_path / 'spool'
    queue.mkdir(exist_ok=True)
    write(str(config_dir / 'master.cf'), master)
    main = 'compatibility_level = 3.6\nqueue_directory = %s\n%s' % (queue, main_extra)
    write(str(config_dir / 'main.cf'), main)
    return postmulti.Instance('postfix-a', str(config_dir), MainCf(main), True), queue


def test_chrooted_services_follow_the_compatibility_level():
    master = 'smtp inet n - - - - smtpd\nrelay unix - - y - - smtp\nlocal unix - n n - - local\n'
    modern = postmulti.Instance('postfix-a', '/x', MainCf('compatibility_level = 3.6\n'), True)
    legacy = postmulti.Instance('postfix-a', '/x', MainCf(''), True)
    assert postmulti.chrooted_services(modern, master) == ['relay/unix']
    assert postmulti.chrooted_services(legacy, master) == ['smtp/inet', 'relay/unix']


def test_prepare_chroot_copies_what_chrooted_services_read(tmp_path):
    root = fake_root(tmp_path)
    instance, queue = chroot_instance(tmp_path, MASTER_CHROOTED, 'smtp_tls_CApath = /etc/ssl/certs\n')
    host = Host(Recorder())
    changed = postmulti.prepare_chroot(host, instance, root=str(root))
    assert (queue / 'etc/resolv.conf').read_text() == 'nameserver 127.0.0.53\n'
    assert (queue / 'etc/hosts').read_text() == '127.0.0.1 localhost\n'
    assert (queue / 'etc/nsswitch.conf').exists() and (queue / 'etc/services').exists()
    # the time zone is a copy of the link's target, not a link out of the chroot
    assert not os.path.islink(str(queue / 'etc/localtime'))
    assert (queue / 'etc/localtime').read_bytes() == (root / 'usr/share/zoneinfo/UTC').read_bytes()
    # NSS modules glibc lacks are copied, the built-in ones and other libraries are not
    assert sorted(os.listdir(str(queue / 'lib'))) == ['libnss_mdns4_minimal.so.2']
    assert sorted(os.listdir(str(queue / 'etc/ssl/certs'))) == ['0123abcd.0']
    assert (queue / 'usr/lib/sasl2').is_dir()
    assert oct(os.stat(str(queue / 'etc/resolv.conf')).st_mode & 0o777) == '0o644'
    assert str(queue / 'etc/resolv.conf') in changed
    # no command was needed: Debian 13 refuses configure-instance.sh, Debian 12 no longer runs it
    assert host._run_command.calls == []
    # a second run changes nothing; a changed source is copied again; a vanished one is removed
    assert postmulti.prepare_chroot(host, instance, root=str(root)) == []
    write(str(root / 'etc/resolv.conf'), 'nameserver 10.0.0.53\n')
    os.unlink(str(root / 'etc/hosts'))
    os.unlink(str(root / 'etc/ssl/certs/0123abcd.0'))
    changed = postmulti.prepare_chroot(host, instance, root=str(root))
    assert sorted(changed) == sorted([str(queue / 'etc/resolv.conf'), str(queue / 'etc/hosts'),
                                      str(queue / 'etc/ssl/certs/0123abcd.0')])
    assert (queue / 'etc/resolv.conf').read_text() == 'nameserver 10.0.0.53\n'
    assert not (queue / 'etc/hosts').exists() and os.listdir(str(queue / 'etc/ssl/certs')) == []


def test_prepare_chroot_does_nothing_without_chrooted_services(tmp_path):
    root = fake_root(tmp_path)
    instance, queue = chroot_instance(tmp_path, MASTER_UNCHROOTED)
    assert postmulti.prepare_chroot(Host(Recorder()), instance, root=str(root)) == []
    assert os.listdir(str(queue)) == []


class SystemdHost(Host):
    """A host where systemd runs, with one postfix@ template."""

    def __init__(self, template, answers=None):
        super().__init__(Recorder(answers))
        self.template = template

    def isdir(self, path):
        return True if path == '/run/systemd/system' else super().isdir(path)

    def read(self, path):
        if path in postmulti.SYSTEMD_TEMPLATES:
            return self.template if path == '/lib/systemd/system/postfix@.service' else None
        return super().read(path)


DEBIAN_12_TEMPLATE = '[Service]\nExecStartPre=/usr/lib/postfix/configure-instance.sh %i\nExecStart=/usr/sbin/postmulti -i %i -p start\n'
DEBIAN_13_TEMPLATE = '[Service]\nEnvironment=MAIL_CONFIG=/etc/postfix-%I\nExecStartPre=+postfix check\nExecStart=postfix debian-systemd-start\n'


@pytest.mark.parametrize('template, name, config_dir, unit', [
    (DEBIAN_12_TEMPLATE, 'postfix-lab-sub', '/etc/postfix-lab-sub', 'postfix@postfix-lab-sub.service'),
    (DEBIAN_13_TEMPLATE, 'postfix-lab-sub', '/etc/postfix-lab-sub', 'postfix@lab\\x2dsub.service'),
    (DEBIAN_13_TEMPLATE, 'postfix-hub', '/etc/postfix-hub', 'postfix@hub.service'),
    (DEBIAN_13_TEMPLATE, 'postfix-.x', '/etc/postfix-.x', 'postfix@\\x2ex.service'),
    # Debian 13's unit serves only /etc/postfix-NAME; an instance elsewhere is started directly
    (DEBIAN_13_TEMPLATE, 'postfix-hub', '/srv/postfix-hub', None),
    ('[Service]\nExecStart=/usr/sbin/something-else\n', 'postfix-hub', '/etc/postfix-hub', None),
])
def test_systemd_unit_of_an_instance(template, name, config_dir, unit):
    instance = postmulti.Instance(name, config_dir, MainCf(''), True)
    assert postmulti.systemd_unit(SystemdHost(template), instance) == unit


def test_no_systemd_unit_without_systemd_or_for_the_primary():
    instance = postmulti.Instance('postfix-hub', '/etc/postfix-hub', MainCf(''), True)
    assert postmulti.systemd_unit(Host(Recorder()), instance) is None   # no systemd as PID 1 here
    primary = postmulti.Instance('postfix', '/etc/postfix', MainCf(''), True)
    assert postmulti.systemd_unit(SystemdHost(DEBIAN_13_TEMPLATE), primary) is None


class Starting(Host):
    """Plays a master(8) that comes up when started and goes when stopped."""

    def __init__(self, run_command):
        super().__init__(run_command)
        self.up = False

    def master_running(self, queue_directory):
        return 4242 if self.up else None

    def run(self, argv, data=None, env=None):
        rc, out, err = super().run(argv, data, env)
        if argv[-1] == 'start' or argv[:2] == ['systemctl', 'start']:
            self.up = True
        if argv[-1] == 'stop' or argv[:2] == ['systemctl', 'stop']:
            self.up = False
        return rc, out, err

    @staticmethod
    def sleep(seconds):
        return None


def test_start_without_systemd_prepares_the_chroot_and_runs_postfix_start(tmp_path):
    root = fake_root(tmp_path)
    instance, queue = chroot_instance(tmp_path, MASTER_CHROOTED)
    (queue / 'pid').mkdir()
    recorder = Recorder()
    host = Starting(recorder)
    postmulti.start(host, instance, root=str(root))
    assert recorder.calls == [['postfix', '-c', instance.config_dir, 'start']]
    assert (queue / 'etc/resolv.conf').exists()
    postmulti.stop(host, instance)
    assert recorder.calls[-1] == ['postfix', '-c', instance.config_dir, 'stop']


def test_an_own_resolver_survives_a_start_and_reload_that_copy_the_hosts(tmp_path):
    # Debian 13's `postfix start` runs configure-instance, which copies the host's resolv.conf
    # into the chroot; the instance's own file (dns_servers) must be back afterwards.
    root = fake_root(tmp_path)
    instance, queue = chroot_instance(tmp_path, MASTER_CHROOTED)
    (queue / 'pid').mkdir()
    resolver = queue / 'etc/resolv.conf'

    class CopyingStart(Starting):
        def run(self, argv, data=None, env=None):
            if argv[-1] in ('start', 'reload'):
                resolver.write_text((root / 'etc/resolv.conf').read_text())
            return super().run(argv, data, env)

    host = CopyingStart(Recorder())
    postmulti.sync_resolver(host, instance, ['198.51.100.53'], root=str(root))
    own = resolver.read_text()
    postmulti.start(host, instance, root=str(root))
    assert resolver.read_text() == own
    postmulti.reload(host, instance)
    assert resolver.read_text() == own
    # without an own file, the host's copy stays what the start made
    postmulti.sync_resolver(host, instance, [], root=str(root))
    postmulti.start(host, instance, root=str(root))
    assert resolver.read_text() == (root / 'etc/resolv.conf').read_text()


def test_start_and_stop_under_systemd_go_through_the_unit(tmp_path):
    root = fake_root(tmp_path)
    (tmp_path / 'etc').mkdir()
    instance, queue = chroot_instance(tmp_path, MASTER_CHROOTED)
    instance = postmulti.Instance('postfix-a', '/etc/postfix-a', instance.main, True)
    (queue / 'pid').mkdir()

    class SystemdStarting(Starting, SystemdHost):
        def __init__(self):
            SystemdHost.__init__(self, DEBIAN_13_TEMPLATE, {'is-active': (0, '', '')})
            self.up = False

        def read(self, path):
            if path == '/etc/postfix-a/master.cf':
                return MASTER_CHROOTED
            return SystemdHost.read(self, path)

    host = SystemdStarting()
    postmulti.start(host, instance, root=str(root))
    postmulti.stop(host, instance)
    calls = host._run_command.calls
    assert calls[0] == ['systemctl', 'start', 'postfix@a.service']
    assert ['systemctl', 'stop', 'postfix@a.service'] in calls
    assert (queue / 'etc/resolv.conf').exists()


def test_a_failed_start_names_the_listener_another_process_holds(tmp_path):
    """Postfix 3.10 logs nothing when master(8) cannot bind: the module tests the listeners itself."""
    import socket
    holder = socket.socket()
    holder.bind(('127.0.0.1', 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        instance, queue = chroot_instance(tmp_path, '127.0.0.1:%d inet n - n - - smtpd\n' % port,
                                          'inet_interfaces = 127.0.0.1\nmaillog_file = %s/x.log\n' % tmp_path)
        write(str(tmp_path / 'x.log'), '')

        class Failing(Host):
            def run(self, argv, data=None, env=None):
                super().run(argv, data, env)
                return 1, '', 'postfix-a/postlog: fatal: mail system startup failed'

            @staticmethod
            def sleep(seconds):
                return None

        with pytest.raises(postmulti.InstanceError) as info:
            postmulti.start(Failing(Recorder()), instance, root=str(fake_root(tmp_path)))
        message = str(info.value)
        assert 'x.log has no new lines' in message
        assert '127.0.0.1:%d cannot be bound: Address already in use (another process listens there)' % port in message
    finally:
        holder.close()
    # with the port free again, nothing is blamed on it
    assert postmulti.listener_problems(Host(Recorder()), instance) == []


def test_an_instance_resolves_through_its_own_name_servers_in_the_chroot(tmp_path):
    root = fake_root(tmp_path)
    instance, queue = chroot_instance(tmp_path, 'smtp unix - - y - - smtp\n')
    host = Host(Recorder())
    resolver = queue / 'etc/resolv.conf'
    # check mode tells the change without writing
    assert postmulti.sync_resolver(host, instance, ['198.51.100.53'], check_mode=True, root=str(root)) == (
        '', postmulti.RESOLVER_MARK + '\nnameserver 198.51.100.53\n')
    assert not resolver.exists()
    postmulti.sync_resolver(host, instance, ['198.51.100.53', '2001:db8::53'], root=str(root))
    assert resolver.read_text() == postmulti.RESOLVER_MARK + '\nnameserver 198.51.100.53\nnameserver 2001:db8::53\n'
    assert oct(os.stat(str(resolver)).st_mode & 0o777) == '0o644'
    assert postmulti.sync_resolver(host, instance, ['198.51.100.53', '2001:db8::53'], root=str(root)) is None
    # a start's chroot preparation keeps the instance's own file, the other copies are made as before
    changed = postmulti.prepare_chroot(host, instance, root=str(root))
    assert str(resolver) not in changed and str(queue / 'etc/hosts') in changed
    assert resolver.read_text().startswith(postmulti.RESOLVER_MARK)
    # None (a handler's reload) leaves it; [] puts the host's copy back, once
    assert postmulti.sync_resolver(host, instance, None, root=str(root)) is None
    before, after = postmulti.sync_resolver(host, instance, [], root=str(root))
    assert before.startswith(postmulti.RESOLVER_MARK) and after == 'nameserver 127.0.0.53\n'
    assert resolver.read_text() == 'nameserver 127.0.0.53\n'
    assert postmulti.sync_resolver(host, instance, [], root=str(root)) is None


def test_own_name_servers_need_a_chrooted_service():
    from ansible_collections.mailrelay.smtp.plugins.module_utils import _postfix_instance
    from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_engine import ValidationFailed

    class Plan:
        main_before = 'compatibility_level = 3.6\n'
        main_after = None
        master_before = MASTER_UNCHROOTED
        master_after = None

    def instance_of(plan):
        return postmulti.Instance('postfix-a', '/x', MainCf(plan.main_after or plan.main_before), True)

    with pytest.raises(ValidationFailed, match=r'dns_servers: no service of postfix-a runs chrooted'):
        _postfix_instance._resolver_check('postfix-a', ['198.51.100.53'], instance_of)(Plan())
    # without own name servers nothing is asked of master.cf; a chrooted smtp client is enough
    _postfix_instance._resolver_check('postfix-a', [], instance_of)(Plan())
    Plan.master_after = 'smtp unix - - y - - smtp\n'
    _postfix_instance._resolver_check('postfix-a', ['198.51.100.53'], instance_of)(Plan())
