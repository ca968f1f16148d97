"""A real SMTP server for the tests (aiosmtpd, PyPI): listens on 127.0.0.1,
prints its port, then one JSON line per mail received: envelope sender and
recipients, Subject, To, and the plain-text and HTML parts. With
--refuse N it answers the first N mails "451 try again later"."""

import argparse
import asyncio
import email
import email.policy
import json
import socket
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, refuse):
        self.refuse = refuse

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
        }), flush=True)
        return "250 2.0.0 queued"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--refuse", type=int, default=0)
    args = parser.parse_args()
    # aiosmtpd checks that it is up by connecting to its own port: pick one.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Sink(args.refuse), hostname="127.0.0.1", port=port)
    controller.start()
    print(json.dumps({"port": port}), flush=True)
    # Until the test closes stdin (or is killed).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    controller.stop()


asyncio.run(main())
