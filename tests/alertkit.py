"""Real receivers for alerting tests: an HTTP server in a thread that records every request
and answers what the test scripts (200, 500, 429 with Retry-After, a stall past the
client's timeout, a reason phrase), and a real SMTP server (aiosmtpd)."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``script``: answers in order (then 200): an int status, ``(status, reason)``,
    ``("429", seconds)`` for Retry-After, ``("stall", seconds)``, ``("hold", event)``
    (answer 200 once the test sets the ``threading.Event``; ``("hold", event, 500)``: that
    status), or ``"garbage"`` (a reply
    that is not HTTP)."""

    url: str
    requests: list[Request] = field(default_factory=list)
    script: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> Any:
        with self.lock:
            return self.script.pop(0) if self.script else 200

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.requests)


@contextmanager
def http_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            action = receiver.answer()
            request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with receiver.lock:
                receiver.requests.append(request)
            reason = None
            headers: dict[str, str] = {}
            if action == "garbage":  # not HTTP at all: http.client's BadStatusLine
                request.answered = 0
                self.wfile.write(b"NOT HTTP\r\n\r\n")
                self.close_connection = True
                return
            if isinstance(action, tuple) and action[0] == "hold":
                action[1].wait(60)
                status = int(action[2]) if len(action) > 2 else 200
            elif isinstance(action, tuple) and action[0] == "stall":
                time.sleep(float(action[1]))
                status = 200
            elif isinstance(action, tuple) and action[0] == "429":
                status, headers = 429, {"Retry-After": str(action[1])}
            elif isinstance(action, tuple):
                status, reason = int(action[0]), str(action[1])
            else:
                status = int(action)
            request.answered = status
            try:
                self.send_response(status, reason)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the client gave up (a stall past its timeout)
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)


@contextmanager
def smtp_receiver() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd's controller, on its own event loop thread)."""
    from aiosmtpd.controller import Controller

    box = Mailbox("127.0.0.1", 0)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            box.messages.append(message_from_bytes(envelope.content))
            return "250 Message accepted for delivery"

    with socket.socket() as probe:  # a free port (the controller needs it up front)
        probe.bind(("127.0.0.1", 0))
        box.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
