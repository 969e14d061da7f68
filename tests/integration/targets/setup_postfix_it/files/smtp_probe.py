#!/usr/bin/env python
"""SMTP probes for the postfix_* integration targets (stdlib only).

  smtp_probe.py banner HOST [PORT]             print the 220 greeting
  smtp_probe.py send HOST PORT FROM TO         send one message; exit 0 when accepted (250)
  smtp_probe.py closed HOST [PORT]             exit 0 when nothing listens
  smtp_probe.py hold HOST PORT SECONDS         occupy HOST:PORT (a plain listener, no SO_REUSEPORT)
"""
import smtplib
import socket
import sys
import time


def banner(host, port):
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.settimeout(10)
        data = b''
        deadline = time.time() + 10
        while not data.endswith(b'\r\n') and time.time() < deadline:
            chunk = sock.recv(1024)
            if not chunk:
                break
            data += chunk
        sock.sendall(b'QUIT\r\n')
    return data.decode('ascii', 'replace').strip()


def main(argv):
    action, host = argv[1], argv[2]
    port = int(argv[3]) if len(argv) > 3 else 25
    if action == 'banner':
        print(banner(host, port))
        return 0
    if action == 'closed':
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError:
            return 0
        print('%s:%d still accepts connections' % (host, port))
        return 1
    if action == 'hold':
        listener = socket.socket()
        # SO_REUSEADDR: a connection of an earlier test in TIME_WAIT does not block the
        # bind; without SO_REUSEPORT, Postfix still cannot share the port.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1)
        time.sleep(int(argv[4]))
        return 0
    if action == 'send':
        sender, recipient = argv[4], argv[5]
        message = 'From: %s\r\nTo: %s\r\nSubject: postfix integration test\r\n\r\nhello\r\n' % (sender, recipient)
        with smtplib.SMTP(host, port, timeout=20) as client:
            client.ehlo('probe.it.test')
            refused = client.sendmail(sender, [recipient], message)
            code, text = client.noop()
        if refused:
            print('refused: %r' % refused)
            return 1
        print('accepted by %s:%d' % (host, port))
        return 0
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
