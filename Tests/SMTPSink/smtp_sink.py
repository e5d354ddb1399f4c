#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for the digest tests.

    python3 smtp_sink.py --dir DIR [--auth USER:PASSWORD] [--starttls CERT KEY] [--exit-with-stdin]

prints {"port": N} once it listens. Every message received is parsed with
Python's email package and written to DIR/NNNN.json: envelope, decoded
headers, and each MIME part (content type and decoded text). Every AUTH the
server receives adds a line to DIR/auth.log saying whether it came over TLS.
With --starttls the server offers STARTTLS and takes AUTH only after it.
"""

import argparse
import json
import os
import signal
import socket
import ssl
import sys
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        parts = [{"type": part.get_content_type(), "content": part.get_content()}
                 for part in message.walk() if not part.is_multipart()]
        record = {
            "mailFrom": envelope.mail_from, "rcptTos": envelope.rcpt_tos,
            "from": str(message["From"]), "to": str(message["To"]), "subject": str(message["Subject"]),
            "date": str(message["Date"]), "messageId": str(message["Message-ID"]),
            "contentType": message.get_content_type(), "parts": parts,
        }
        with self.lock:
            self.count += 1
            path = os.path.join(self.directory, "%04d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False)
        os.rename(path + ".tmp", path)
        return "250 Message accepted"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--auth", help="require AUTH with USER:PASSWORD (LOGIN or PLAIN, no TLS needed)")
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--exit-with-stdin", action="store_true")
    arguments = parser.parse_args()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    port = free_port()
    options = {}
    if arguments.auth:
        user, _, password = arguments.auth.partition(":")

        def authenticate(server, session, envelope, mechanism, data):
            with open(os.path.join(arguments.dir, "auth.log"), "a") as log:
                log.write("tls\n" if session.ssl else "clear\n")
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=ok)
        options = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": bool(arguments.starttls)}
    if arguments.starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*arguments.starttls)
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(Sink(arguments.dir), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print(json.dumps({"port": port}), flush=True)
    if arguments.exit_with_stdin:
        sys.stdin.buffer.read()
        os._exit(0)
    threading.Event().wait()


if __name__ == "__main__":
    main()
