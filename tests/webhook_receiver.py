"""A real HTTP receiver of webhooks on 127.0.0.1: acknowledges, fails then recovers, or hangs.

Each receiver runs `http.server` in a thread on a free port, checks every
message's Standard Webhooks signature itself (HMAC-SHA256 over
`id.timestamp.body`, independently of leadbill's code) and records what it got.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One POST as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    answered: int | None

    @property
    def message_id(self) -> str:
        """The webhook-id header."""
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        """The parsed body."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """What to answer: `fail_first` 500s then 200s; `hang` never answers."""

    fail_first: int = 0
    hang: bool = False
    secret: str = ""
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def check(self, headers: dict[str, str], body: bytes) -> bool:
        """The Standard Webhooks check, written out: any `v1,` signature matching."""
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        offered = [s.removeprefix("v1,") for s in headers["webhook-signature"].split(" ")]
        return any(hmac.compare_digest(expected, candidate) for candidate in offered)

    def acknowledged(self) -> list[Received]:
        """The messages this receiver answered with a 2xx."""
        return [r for r in self.received if r.answered is not None and r.answered < 300]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            valid = receiver.check(headers, body)
            with receiver._lock:
                seen = len(receiver.received)
                answer = None if receiver.hang else (500 if seen < receiver.fail_first else 200)
                if not valid:
                    answer = None if receiver.hang else 401
                receiver.received.append(Received(headers, body, valid, answer))
            if answer is None:
                receiver._stop.wait(30)  # never answers (until the test ends)
                return
            self.send_response(answer)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    """Serve `receiver` on 127.0.0.1 (a free port) for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver._stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
