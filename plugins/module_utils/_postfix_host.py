# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host adapter: the only place where the Postfix code touches files and processes.

Private to the collection. Modules construct ``LocalHost`` with the
module's ``run_command`` and hand it to the engine; the model and the
checks never import this file, so they stay testable without a host, and a
test can hand the engine any object with the same methods.

Text files are read and written with ``surrogateescape`` so that bytes that
are not UTF-8 survive a read/modify/write cycle unchanged.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
import time

ENCODING = 'utf-8'
ERRORS = 'surrogateescape'
# How long a health check waits for the rest of a multi-line greeting (postscreen's greet wait).
POSTSCREEN_GREETING_WAIT = 15.0


class HostError(Exception):
    """A host operation failed; the message says which and why."""


class NoTerminal(HostError):
    """No pseudo-terminal can be opened here (a minimal container without devpts)."""


def _tls_client_context():
    import ssl  # pylint: disable=import-outside-toplevel
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The health check compares the presented certificate with the configured one itself.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _implicit_tls_session(sock, result, reply):
    """The handshake first, then the greeting through it (smtpd_tls_wrappermode); fills ``result``."""
    import ssl  # pylint: disable=import-outside-toplevel
    try:
        tls = _tls_client_context().wrap_socket(sock, server_hostname=None)
    except (ssl.SSLError, IOError, OSError) as exc:
        result['tls_error'] = getattr(exc, 'reason', None) or getattr(exc, 'strerror', None) or str(exc)
        result['error'] = 'no TLS handshake (%s)' % result['tls_error']
        return result
    with tls:
        result['peer_certificate'] = tls.getpeercert(binary_form=True)
        try:
            result['greeting'] = reply(tls.makefile('rb'))[0]
            tls.sendall(b'QUIT\r\n')
        except (IOError, OSError) as exc:
            result['error'] = 'no greeting (%s)' % (getattr(exc, 'strerror', None) or exc)
    return result


class LocalHost:
    """Files, processes and sockets of the machine the module runs on."""

    def __init__(self, run_command):
        # run_command(argv, data=None) -> (rc, stdout, stderr), as AnsibleModule.run_command
        self._run_command = run_command
        self._commands = {}
        self._local = None

    # -- files ---------------------------------------------------------------

    @staticmethod
    def read(path):
        """Text of ``path``, or None when it does not exist."""
        try:
            with open(path, 'r', encoding=ENCODING, errors=ERRORS, newline='') as handle:
                return handle.read()
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise HostError('cannot read %s: %s' % (path, exc.strerror))

    @staticmethod
    def read_tail(path, offset=0, limit=65536):
        """Text of ``path`` from byte ``offset`` (at most ``limit`` bytes from the end)."""
        try:
            with open(path, 'rb') as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                start = max(offset if offset <= size else 0, size - limit)
                handle.seek(start)
                return handle.read().decode(ENCODING, 'replace')
        except (IOError, OSError):
            return ''

    @staticmethod
    def stat(path):
        try:
            return os.stat(path)
        except (IOError, OSError) as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise HostError('cannot stat %s: %s' % (path, exc.strerror))

    @staticmethod
    def digest(path):
        """SHA-256 (hex) of the bytes of ``path``; None when it cannot be read."""
        import hashlib  # pylint: disable=import-outside-toplevel
        sha = hashlib.sha256()
        try:
            with open(path, 'rb') as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b''):
                    sha.update(chunk)
        except (IOError, OSError):
            return None
        return sha.hexdigest()

    @staticmethod
    def exists(path):
        return os.path.exists(path)

    @staticmethod
    def isdir(path):
        return os.path.isdir(path)

    @staticmethod
    def isfile(path):
        """True for a regular file, also through a symbolic link."""
        return os.path.isfile(path)

    @staticmethod
    def islink(path):
        return os.path.islink(path)

    @staticmethod
    def sync_file(src, dst, mode=0o644):
        """Make ``dst`` a copy (owned by root when run as root) of ``src``'s content (links followed) with ``mode``; True when it changed.

        The copy is written next to ``dst`` and renamed over it, so a reader
        never sees half a file.
        """
        try:
            with open(src, 'rb') as handle:
                data = handle.read()
            try:
                with open(dst, 'rb') as handle:
                    same = handle.read() == data
                status = os.lstat(dst)
                if same and (status.st_mode & 0o7777) == mode and status.st_uid == os.geteuid() and not os.path.islink(dst):
                    return False
            except (IOError, OSError):
                pass
            directory = os.path.dirname(dst)
            os.makedirs(directory, 0o755, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix='.mailrelay-', dir=directory)
            try:
                try:
                    os.write(fd, data)
                    os.fchmod(fd, mode)
                    if os.geteuid() == 0:
                        os.fchown(fd, 0, 0)
                finally:
                    os.close(fd)
                os.rename(temp, dst)
            except (IOError, OSError):
                if os.path.exists(temp):
                    os.unlink(temp)
                raise
            return True
        except (IOError, OSError) as exc:
            raise HostError('cannot copy %s to %s: %s' % (src, dst, exc.strerror or exc))

    @staticmethod
    def listdir(path):
        try:
            return sorted(os.listdir(path))
        except (IOError, OSError):
            return []

    @staticmethod
    def uid(owner):
        import pwd  # pylint: disable=import-outside-toplevel
        if isinstance(owner, int) or str(owner).isdigit():
            return int(owner)
        try:
            return pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise HostError('unknown user %s' % owner)

    @staticmethod
    def gid(group):
        import grp  # pylint: disable=import-outside-toplevel
        if isinstance(group, int) or str(group).isdigit():
            return int(group)
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            raise HostError('unknown group %s' % group)

    @staticmethod
    def make_stage(parent, prefix='.mailrelay-stage-'):
        """A private (0700) directory inside ``parent``, or in the temp dir when parent is None."""
        try:
            return tempfile.mkdtemp(prefix=prefix, dir=parent)
        except (IOError, OSError) as exc:
            raise HostError('cannot create a staging directory in %s: %s' % (parent or tempfile.gettempdir(), exc.strerror))

    @staticmethod
    def makedirs(path, mode=0o755):
        try:
            os.makedirs(path, mode)
        except (IOError, OSError) as exc:
            if exc.errno != errno.EEXIST:
                raise HostError('cannot create directory %s: %s' % (path, exc.strerror))

    @staticmethod
    def write(path, text, mode=0o600):
        """Create ``path`` (which must not exist) with ``mode`` from the start."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                os.fchmod(fd, mode)
                os.write(fd, text.encode(ENCODING, ERRORS))
                os.fsync(fd)
            finally:
                os.close(fd)
        except (IOError, OSError) as exc:
            raise HostError('cannot write %s: %s' % (path, exc.strerror))

    @staticmethod
    def backdate(path, seconds=5):
        """Set the modification time ``seconds`` into the past.

        Postfix programs re-read a configuration file every 0.3 s for up to
        about two seconds while its modification time is less than a second
        or two old ("let it settle"); a staged main.cf is complete when it is
        written, so it need not look fresh.
        """
        when = time.time() - seconds
        try:
            os.utime(path, (when, when))
        except (IOError, OSError) as exc:
            raise HostError('cannot set the time of %s: %s' % (path, exc.strerror))

    @staticmethod
    def set_attributes(path, mode, uid, gid):
        try:
            os.chown(path, uid, gid)
            os.chmod(path, mode)
        except (IOError, OSError) as exc:
            raise HostError('cannot set owner/mode of %s: %s' % (path, exc.strerror))

    @staticmethod
    def keep_copy(src, dst):
        """Keep the current ``src`` at ``dst``: a hard link, or a copy across file systems."""
        try:
            os.link(src, dst)
            return
        except (IOError, OSError):
            pass
        try:
            shutil.copy2(src, dst)
            status = os.stat(src)
            os.chown(dst, status.st_uid, status.st_gid)
        except (IOError, OSError) as exc:
            raise HostError('cannot keep a copy of %s before replacing it: %s' % (src, exc.strerror))

    def replace(self, src, dst):
        """Atomically put ``src`` at ``dst``; across file systems through a temp file next to dst."""
        try:
            os.rename(src, dst)
            return
        except (IOError, OSError) as exc:
            if exc.errno != errno.EXDEV:
                raise HostError('cannot move %s to %s: %s' % (src, dst, exc.strerror))
        directory = os.path.dirname(dst) or '.'
        fd, temp = tempfile.mkstemp(prefix='.mailrelay-', dir=directory)
        os.close(fd)
        try:
            shutil.copy2(src, temp)
            status = os.stat(src)
            os.chown(temp, status.st_uid, status.st_gid)
            os.chmod(temp, status.st_mode & 0o7777)
            os.rename(temp, dst)
            os.unlink(src)
        except (IOError, OSError) as exc:
            self.remove(temp)
            raise HostError('cannot move %s to %s: %s' % (src, dst, exc.strerror))

    @staticmethod
    def remove(path):
        try:
            os.unlink(path)
            return True
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise HostError('cannot remove %s: %s' % (path, exc.strerror))

    @staticmethod
    def remove_tree(path):
        shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def remove_sockets(directory):
        """Delete the sockets and FIFOs (not files) in ``directory``; return their names."""
        import stat as stat_module  # pylint: disable=import-outside-toplevel
        removed = []
        for name in LocalHost.listdir(directory):
            path = os.path.join(directory, name)
            try:
                mode = os.lstat(path).st_mode
            except (IOError, OSError):
                continue
            if stat_module.S_ISSOCK(mode) or stat_module.S_ISFIFO(mode):
                os.unlink(path)
                removed.append(name)
        return removed

    @staticmethod
    def count_files(directory):
        """Regular files below ``directory`` (queue files), without following links."""
        count = 0
        for _root, _dirs, files in os.walk(directory):
            count += len(files)
        return count

    # -- processes and network ----------------------------------------------

    def run(self, argv, data=None, env=None):
        if env:
            rc, out, err = self._run_command(argv, data=data, environ_update=env)
        else:
            rc, out, err = self._run_command(argv, data=data)
        return rc, out or '', err or ''

    def command(self, name):
        """Absolute path of a Postfix command (they live in sbin, often outside PATH)."""
        if name not in self._commands:
            search = os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin', '/sbin', '/usr/local/sbin'])
            found = shutil.which(name, path=search)
            if not found:
                raise HostError('%s not found; is Postfix installed?' % name)
            self._commands[name] = found
        return self._commands[name]

    @staticmethod
    def master_running(queue_directory):
        """PID of the master(8) whose working directory is ``queue_directory``, or None.

        master(8) writes pid/master.pid in its queue directory and chdirs
        there; checking the working directory too rules out a stale PID that
        now belongs to another instance's master.
        """
        text = LocalHost.read(os.path.join(queue_directory, 'pid', 'master.pid'))
        if not text or not text.strip().isdigit():
            return None
        pid = int(text.strip())
        proc = '/proc/%d' % pid
        if os.path.isdir('/proc/self'):
            try:
                cwd = os.readlink(proc + '/cwd')
            except (IOError, OSError):
                return None
            return pid if os.path.realpath(cwd) == os.path.realpath(queue_directory) else None
        try:
            os.kill(pid, 0)
        except (IOError, OSError):
            return None
        return pid

    def run_tty(self, argv, timeout=120):
        """Run ``argv`` with stdout and stderr on a pseudo-terminal; return ``(rc, output)``.

        Postfix commands print their diagnostics on stderr only when it is a
        terminal; otherwise they go to syslog or maillog_file, where nobody
        reads them (``postfix check`` then fails with exit status 1 and no
        message at all). Raises NoTerminal when no pseudo-terminal can be opened.
        """
        import pty  # pylint: disable=import-outside-toplevel
        import select  # pylint: disable=import-outside-toplevel
        import subprocess  # pylint: disable=import-outside-toplevel
        try:
            master, slave = pty.openpty()
        except (IOError, OSError) as exc:
            raise NoTerminal('cannot open a pseudo-terminal: %s' % (exc.strerror or exc))
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True)
        except (IOError, OSError) as exc:
            os.close(master)
            os.close(slave)
            raise HostError('cannot run %s: %s' % (argv[0], exc.strerror))
        os.close(slave)
        chunks = []
        deadline = time.time() + timeout
        try:
            while True:
                ready, _w, _x = select.select([master], [], [], max(0.0, deadline - time.time()))
                if not ready:
                    process.kill()
                    chunks.append(b'\n(killed after %d seconds)' % timeout)
                    break
                try:
                    data = os.read(master, 65536)
                except (IOError, OSError):
                    break   # EIO: the child closed the terminal
                if not data:
                    break
                chunks.append(data)
        finally:
            os.close(master)
        rc = process.wait()
        return rc, b''.join(chunks).decode(ENCODING, 'replace').replace('\r\n', '\n')

    @staticmethod
    def local_addresses():
        """Addresses assigned to local interfaces, or None when the kernel does not tell.

        This is the list Postfix checks inet_interfaces against. A bind test
        is not enough: on Linux every 127/8 address can be bound, but Postfix
        accepts only addresses that are configured on an interface.
        """
        found = set()
        known = False
        text = LocalHost.read('/proc/net/fib_trie')
        if text is not None:
            known = True
            last = None
            for line in text.splitlines():
                stripped = line.strip()
                if stripped.startswith('|-- '):
                    last = stripped[4:].strip()
                elif stripped.startswith('/32 host LOCAL') and last:
                    found.add(last)
        text = LocalHost.read('/proc/net/if_inet6')
        if text is not None:
            known = True
            import ipaddress  # pylint: disable=import-outside-toplevel
            for line in text.splitlines():
                fields = line.split()
                if fields and len(fields[0]) == 32:
                    found.add(str(ipaddress.IPv6Address(int(fields[0], 16))))
        return found if known else None

    def is_local_address(self, address):
        """True when ``address`` is configured on a local interface."""
        if self._local is None:
            self._local = self.local_addresses()
            if self._local is None:
                self._local = False
        if self._local is False:
            return self.can_bind(address)
        return address in self._local

    @staticmethod
    def can_bind(address):
        """True when a bind to ``address`` port 0 succeeds (fallback when interfaces are unknown)."""
        family = socket.AF_INET6 if ':' in address else socket.AF_INET
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except (IOError, OSError):
            return False
        try:
            sock.bind((address, 0))
            return True
        except (IOError, OSError):
            return False
        finally:
            sock.close()

    @staticmethod
    def bind_error(address, port):
        """Why a TCP listener on ``address`` (``*``: every address) and ``port`` cannot be opened now, or None."""
        if address == '*':
            address = '0.0.0.0'
        family = socket.AF_INET6 if ':' in address else socket.AF_INET
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except (IOError, OSError) as exc:
            return exc.strerror or str(exc)
        try:
            # as master(8) binds: a port in TIME_WAIT is not "in use"
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            return None
        except (IOError, OSError) as exc:
            return exc.strerror or str(exc)
        finally:
            sock.close()

    @staticmethod
    def port_number(name):
        """TCP port of a master.cf service name (Postfix's known_tcp_ports first, then services(5))."""
        from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_validate import KNOWN_TCP_PORTS  # pylint: disable=import-outside-toplevel
        if name.isdigit():
            return int(name)
        if name in KNOWN_TCP_PORTS:
            return KNOWN_TCP_PORTS[name]
        try:
            return socket.getservbyname(name, 'tcp')
        except (OSError, socket.error):
            return None

    @staticmethod
    def resolve(name):
        try:
            infos = socket.getaddrinfo(name, None, 0, socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return []
        result = []
        for info in infos:
            address = info[4][0].split('%')[0]
            if address not in result:
                result.append(address)
        return result

    @staticmethod
    def sleep(seconds):
        time.sleep(seconds)

    @staticmethod
    def lock(path, timeout=300):
        """Context manager holding an exclusive flock on ``path`` (created if needed).

        Waits at most ``timeout`` seconds, polling, then raises HostError.
        """
        import contextlib  # pylint: disable=import-outside-toplevel
        import fcntl  # pylint: disable=import-outside-toplevel

        @contextlib.contextmanager
        def held():
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                deadline = time.time() + timeout
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except (IOError, OSError):
                        if time.time() >= deadline:
                            raise HostError('%s is still locked after %d seconds' % (path, timeout))
                        time.sleep(0.1)
                yield
            finally:
                os.close(fd)

        return held()

    @staticmethod
    def file_size(path):
        try:
            return os.stat(path).st_size
        except (IOError, OSError):
            return 0

    # -- health: sockets, TLS, SMTP ------------------------------------------

    @staticmethod
    def listening_sockets():
        """``[(address, port, inode)]`` of every TCP socket in LISTEN state in this network namespace."""
        from ansible_collections.mailrelay.smtp.plugins.module_utils._postfix_health import parse_proc_net_tcp  # pylint: disable=import-outside-toplevel
        sockets = []
        for name in ('/proc/net/tcp', '/proc/net/tcp6'):
            sockets.extend(parse_proc_net_tcp(LocalHost.read(name)))
        return sockets

    @staticmethod
    def socket_owners(inodes):
        """``{inode: [(pid, command)]}`` of the processes holding the sockets ``inodes``."""
        wanted = dict(('socket:[%d]' % inode, inode) for inode in inodes)
        owners = {}
        if not wanted:
            return owners
        for entry in LocalHost.listdir('/proc'):
            if not entry.isdigit():
                continue
            fd_dir = '/proc/%s/fd' % entry
            for fd in LocalHost.listdir(fd_dir):
                try:
                    target = os.readlink('%s/%s' % (fd_dir, fd))
                except (IOError, OSError):
                    continue
                if target in wanted:
                    command = (LocalHost.read('/proc/%s/comm' % entry) or '?').strip()
                    owners.setdefault(wanted[target], []).append((int(entry), command))
        return owners

    @staticmethod
    def tls_pair_problem(cert, key):
        """None when ``key`` can be read without a passphrase and matches ``cert``; otherwise why not."""
        import ssl  # pylint: disable=import-outside-toplevel

        def no_passphrase():
            raise ValueError('passphrase')

        for path, what in ((cert, 'certificate'), (key, 'key')):
            try:
                with open(path, 'rb'):
                    pass
            except (IOError, OSError) as exc:
                return 'cannot read the %s %s: %s' % (what, path, exc.strerror)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(cert, key, password=no_passphrase)
        except ValueError:
            return 'the key %s is protected by a passphrase; Postfix cannot load it' % key
        except ssl.SSLError as exc:
            reason = getattr(exc, 'reason', None) or str(exc)
            if 'MISMATCH' in str(reason).upper():
                return 'the key %s does not match the certificate %s' % (key, cert)
            return 'cannot load the certificate %s with the key %s (%s)' % (cert, key, reason)
        except (IOError, OSError) as exc:
            return 'cannot load the certificate %s with the key %s: %s' % (cert, key, exc.strerror or exc)
        return None

    def certificate_expired(self, cert):
        """A phrase such as 'expired on ...' when ``cert`` is no longer valid; None when valid (or unknown)."""
        openssl = shutil.which('openssl')
        if not openssl:
            return None
        rc, out, _err = self.run([openssl, 'x509', '-in', cert, '-noout', '-enddate', '-checkend', '0'])
        if rc == 1 and 'notAfter=' in out:
            return 'expired on %s' % out.split('notAfter=', 1)[1].splitlines()[0].strip()
        return None

    @staticmethod
    def certificate_der(path):
        """DER bytes of the first certificate in the PEM file ``path`` (None when unreadable)."""
        import ssl  # pylint: disable=import-outside-toplevel
        text = LocalHost.read(path) or ''
        begin = text.find('-----BEGIN CERTIFICATE-----')
        end = text.find('-----END CERTIFICATE-----', begin)
        if begin < 0 or end < 0:
            return None
        try:
            return ssl.PEM_cert_to_DER_cert(text[begin:end + len('-----END CERTIFICATE-----')] + '\n')
        except ValueError:
            return None

    @staticmethod
    def dovecot_auth_handshake(path, timeout=3.0):
        """``(reply, error)``: the server handshake read from Dovecot's auth socket ``path``, or why there is none.

        Says hello as a client of the auth protocol (``VERSION``/``CPID``) and
        reads until ``DONE``; nobody authenticates. Never raises.
        """
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except (IOError, OSError) as exc:
            return '', exc.strerror or str(exc)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(('VERSION\t1\t2\nCPID\t%d\n' % os.getpid()).encode('ascii'))
            data = b''
            while b'\nDONE\n' not in b'\n' + data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.decode('utf-8', 'replace'), None
        except socket.timeout:
            return '', 'no answer within %d seconds' % timeout
        except (IOError, OSError) as exc:
            return '', exc.strerror or str(exc)
        finally:
            sock.close()

    @staticmethod
    def smtp_session(address, port, starttls=False, timeout=3.0, implicit_tls=False):
        """Greeting, EHLO and (optionally) STARTTLS against ``address:port``.

        With ``implicit_tls`` (a ``smtpd_tls_wrappermode`` listener such as 465) the TLS handshake comes
        first and the greeting is read through it. Returns ``{greeting, error, tls_error,
        peer_certificate}``; never raises.
        """
        import ssl  # pylint: disable=import-outside-toplevel
        result = {'greeting': '', 'error': None, 'tls_error': None, 'peer_certificate': None}
        family = socket.AF_INET6 if ':' in address else socket.AF_INET

        def reply(stream):
            lines = []
            while True:
                line = stream.readline(1024)
                if not line:
                    raise OSError('connection closed')
                lines.append(line.decode('utf-8', 'replace').rstrip('\r\n'))
                if len(line) < 4 or line[3:4] != b'-':
                    return lines
                # postscreen sends the first greeting line at once and the rest after its
                # greet wait (postscreen_greet_wait, 6 s by default): give the rest that long.
                sock.settimeout(max(timeout, POSTSCREEN_GREETING_WAIT))

        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect((address, port))
        except (IOError, OSError) as exc:
            result['error'] = exc.strerror or str(exc)
            return result
        try:
            if implicit_tls:
                return _implicit_tls_session(sock, result, reply)
            stream = sock.makefile('rb')
            try:
                result['greeting'] = reply(stream)[0]
            except (IOError, OSError) as exc:
                result['error'] = 'no greeting (%s)' % (getattr(exc, 'strerror', None) or exc)
                return result
            if not starttls or not result['greeting'].startswith('220'):
                sock.sendall(b'QUIT\r\n')
                return result
            try:
                sock.sendall(b'EHLO mailrelay-health-check\r\n')
                ehlo = reply(stream)
                if not any(line[4:].upper().startswith('STARTTLS') for line in ehlo):
                    result['tls_error'] = 'STARTTLS is not offered'
                    return result
                sock.sendall(b'STARTTLS\r\n')
                answer = reply(stream)[-1]
                if not answer.startswith('220'):
                    result['tls_error'] = answer
                    return result
                with _tls_client_context().wrap_socket(sock, server_hostname=None) as tls:
                    result['peer_certificate'] = tls.getpeercert(binary_form=True)
                    tls.sendall(b'QUIT\r\n')
            except ssl.SSLError as exc:
                result['tls_error'] = getattr(exc, 'reason', None) or str(exc)
            except (IOError, OSError) as exc:
                result['tls_error'] = getattr(exc, 'strerror', None) or str(exc)
            return result
        finally:
            sock.close()
