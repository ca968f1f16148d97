"""A real SMTP server for the tests (aiosmtpd, PyPI): listens on 127.0.0.1,
prints its port, then one JSON line per mail received: envelope sender and
recipients, Subject, To, the plain-text and HTML parts, and whether it came
over TLS. With --refuse N it answers the first N mails "451 try again
later"; with --tls starttls (required) or wrapper (TLS from the first
byte), --cert and --key, it speaks TLS; with --user and --password it
takes mail only from a client that logged in with them."""

import argparse
import asyncio
import email
import email.policy
import json
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, refuse, implicit_tls):
        self.refuse = refuse
        # Its socket speaks only TLS: every mail on it came encrypted.
        self.implicit_tls = implicit_tls

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["Subject"]),
            "to": str(msg["To"]),
            "from": str(msg["From"]),
            "text": text.get_content() if text else "",
            "html": html.get_content() if html else "",
            "tls": self.implicit_tls or session.ssl is not None,
            "authenticated": bool(session.authenticated),
        }), flush=True)
        return "250 2.0.0 queued"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--refuse", type=int, default=0)
    parser.add_argument("--tls", choices=["starttls", "wrapper"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    tls = {}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            tls = {"tls_context": context, "require_starttls": True}
        else:
            tls = {"ssl_context": context}
    if args.user:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login == args.user.encode()
                  and auth_data.password == args.password.encode())
            return AuthResult(success=ok)
        tls.update(authenticator=authenticator, auth_required=True)
    # aiosmtpd checks that it is up by connecting to its own port: pick one.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Sink(args.refuse, args.tls == "wrapper"), hostname="127.0.0.1", port=port, **tls)
    controller.start()
    print(json.dumps({"port": port}), flush=True)
    # Until the test closes stdin (or is killed).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    controller.stop()


asyncio.run(main())
