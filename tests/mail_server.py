"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what arrives.

It can answer the next messages with a reply code (451: try again later; 550:
refused for good), or hold a message after receiving it, before answering,
to stand for a server that is slow to acknowledge.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Arrived:
    """One message the server accepted (or received before refusing or holding it)."""

    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Handler:
    """aiosmtpd's handler: record, then answer 250 or the reply code queued."""

    arrived: list[Arrived] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # answers for the next messages
    hold: threading.Event | None = None  # set: answer; unset: wait
    received: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.arrived.append(Arrived(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        self.received.set()
        if self.hold is not None:
            hold = self.hold
            await server.loop.run_in_executor(None, lambda: hold.wait(30))
        return self.replies.pop(0) if self.replies else "250 OK"

    def reset(self) -> None:
        """Forget what arrived and what was queued."""
        self.arrived.clear()
        self.replies.clear()
        self.hold = None
        self.received.clear()


def free_port() -> int:
    """A TCP port nobody listens on right now (for a server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _login(user: str, password: str) -> Any:
    """aiosmtpd's authenticator accepting exactly this login (AUTH PLAIN or LOGIN)."""

    def check(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> Any:
        given = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=given)

    return check


@contextmanager
def smtp_server(login: tuple[str, str] | None = None) -> Iterator[tuple[Handler, int]]:
    """Run a server on a free loopback port; yields its handler and port.

    `login` (user, password): the server requires that login before it takes mail
    (over plain SMTP: the loopback has no TLS).
    """
    handler = Handler()
    port = free_port()
    auth: dict[str, Any] = {}
    if login is not None:
        auth = {"authenticator": _login(*login), "auth_required": True, "auth_require_tls": False}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **auth)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
