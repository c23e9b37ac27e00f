"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and the scheduled jobs
pointed at it."""

from __future__ import annotations

import email
import socket
from collections import Counter
from email import policy
from email.message import EmailMessage

from api.services.jobs import Jobs
from tests.world import World


class Inbox:
    def __init__(self) -> None:
        self.raw: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.raw.append(envelope.original_content or envelope.content)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=policy.default) for raw in self.raw]  # type: ignore[misc]

    def recipients(self) -> Counter[str]:
        return Counter(str(m["To"]) for m in self.messages())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_jobs(world: World, smtp_port: int, **kw: object) -> Jobs:
    app = world.app
    settings = app.state.settings.model_copy(update={"smtp_port": smtp_port, "base_url": "http://testserver",  # type: ignore[attr-defined]
                                                     "mail_from": "duijie@jl.example"})
    return Jobs(app.state.engine, settings, app.state.matcher, secret=app.state.secret, clock=world.clock, **kw)  # type: ignore[attr-defined,arg-type]
