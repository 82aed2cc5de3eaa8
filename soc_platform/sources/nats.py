"""A NATS JetStream durable pull consumer as a source of micro-batches.

One message holds one event (a JSON line). A micro-batch fetches up to ``batch``
messages, waiting at most ``wait_seconds`` for the first and stopping early once the
consumer has nothing more pending. The messages are acknowledged only after the batch is
committed (lake, hot store, correlation, index): a crash before that leaves them
unacknowledged and JetStream redelivers them after ``ack_wait_seconds``; event ids make
the redelivery harmless. A message that did not parse is a dead letter in the lake and is
terminated (``+TERM`` with its reason), so it is never redelivered; the consumer has no
``max_deliver`` limit, as JetStream silently stops delivering a message past it.

nats-py is asyncio; Dagster ops and the CLI are synchronous, so every call here runs its
own event loop with its own connection (``asyncio.run``: about 2 ms), and acknowledgements
are published to each message's reply subject from a later connection.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from soc_platform.errors import ConfigurationError, SocPlatformError
from soc_platform.parsing import DEFAULT_MAX_LINE_BYTES, LineBlock
from soc_platform.parsing.base import TOO_LARGE_KEEP_BYTES
from soc_platform.parsing.lines import CutLine, line_digest
from soc_platform.redact import redact_url
from soc_platform.settings import Settings

T = TypeVar("T")
#: Messages per pull request, and the least time one is given to arrive.
PULL_MESSAGES = 1000
PULL_SECONDS = 2.0


class NatsSourceError(SocPlatformError):
    """The NATS server cannot be reached or refused a request."""


@dataclass(frozen=True)
class NatsSource:
    """``SOC_NATS_*``: the server, the stream and subject, the durable consumer."""

    url: str
    stream: str = "WAF"
    subject: str = "waf.>"
    consumer: str = "soc-platform"
    batch: int = 10_000
    wait_seconds: float = 5.0
    ack_wait_seconds: float = 600.0
    connect_timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.batch < 1 or self.wait_seconds <= 0 or self.ack_wait_seconds <= 0:
            raise ConfigurationError(
                "SOC_NATS_BATCH, SOC_NATS_WAIT_SECONDS and SOC_NATS_ACK_WAIT_SECONDS must "
                "be positive"
            )

    @property
    def source_file(self) -> str:
        """What events from this stream record as ``source_file`` (the offset is the
        message's stream sequence)."""
        return f"nats:{self.stream}"


@dataclass(frozen=True)
class Lag:
    """The consumer's backlog: messages not yet delivered, delivered but not acked."""

    num_pending: int = 0
    num_ack_pending: int = 0
    num_redelivered: int = 0
    ack_floor: int = 0  # stream sequence below which everything is acknowledged

    def as_metadata(self) -> dict[str, int]:
        return {
            "nats/num_pending": self.num_pending,
            "nats/num_ack_pending": self.num_ack_pending,
            "nats/num_redelivered": self.num_redelivered,
            "nats/ack_floor": self.ack_floor,
        }


@dataclass
class Fetched:
    """One micro-batch of messages: their lines (offsets = stream sequences) and what it
    takes to acknowledge each."""

    block: LineBlock
    receipts: list[tuple[int, str]] = field(default_factory=list)  # (seq, reply subject)
    empty: int = 0  # messages without content (acknowledged, nothing to store)
    lag: Lag = field(default_factory=Lag)


def _run(config: NatsSource, action: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Connect, run ``work(nc)``, close: one event loop per call."""
    import nats
    from nats.errors import Error as NatsError

    async def quiet(exc: Exception) -> None:
        """nats-py prints each failed attempt's traceback by default; the error raised
        below says it once."""

    async def main() -> T:
        try:
            nc = await asyncio.wait_for(
                nats.connect(
                    config.url,
                    connect_timeout=config.connect_timeout,
                    allow_reconnect=False,
                    max_reconnect_attempts=1,  # 0 would be "forever"
                    reconnect_time_wait=0.2,
                    error_cb=quiet,
                ),
                3 * config.connect_timeout,
            )
        except (OSError, NatsError, TimeoutError) as exc:
            raise NatsSourceError(
                f"cannot reach NATS at {redact_url(config.url)} to {action}: {type(exc).__name__}: "
                f"{exc} (check SOC_NATS_URL; is nats-server running with JetStream, -js?)"
            ) from exc
        try:
            return await work(nc)
        except NatsError as exc:
            raise NatsSourceError(
                f"NATS at {redact_url(config.url)} refused to {action}: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            await nc.close()

    return asyncio.run(main())


async def _ensure(js: Any, config: NatsSource) -> None:
    """Create the stream (file storage, ``subject``) and the durable consumer when absent."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(config.stream)
    except NotFoundError:
        await js.add_stream(name=config.stream, subjects=[config.subject], storage=StorageType.FILE)
    try:
        await js.consumer_info(config.stream, config.consumer)
    except NotFoundError:
        await js.add_consumer(
            config.stream,
            ConsumerConfig(
                durable_name=config.consumer,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=config.ack_wait_seconds,
                max_deliver=-1,
                filter_subject=config.subject,
                max_ack_pending=max(4 * config.batch, 1000),
            ),
        )


def _lag(info: Any) -> Lag:
    return Lag(
        num_pending=int(info.num_pending or 0),
        num_ack_pending=int(info.num_ack_pending or 0),
        num_redelivered=int(info.num_redelivered or 0),
        ack_floor=int(getattr(info.ack_floor, "stream_seq", 0) or 0),
    )


def _block(msgs: Sequence[Any], max_line_bytes: int) -> tuple[LineBlock, int]:
    lines: list[bytes] = []
    offsets: list[int] = []
    cut: dict[int, CutLine] = {}
    empty = 0
    for msg in msgs:
        data = bytes(msg.data).strip()
        if not data:
            empty += 1
            continue
        if len(data) > max_line_bytes:
            cut[len(lines)] = CutLine(len(data), line_digest(data))
            data = data[: min(TOO_LARGE_KEEP_BYTES, max_line_bytes)]
        lines.append(data)
        offsets.append(int(msg.metadata.sequence.stream))
    return LineBlock(lines, offsets, cut), empty


def fetch(config: NatsSource, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Fetched:
    """Fetch one micro-batch (not acknowledged: see :func:`confirm`)."""

    async def work(nc: Any) -> Fetched:
        js = nc.jetstream()
        await _ensure(js, config)
        sub = await js.pull_subscribe_bind(durable=config.consumer, stream=config.stream)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + config.wait_seconds
        msgs: list[Any] = []
        while len(msgs) < config.batch:
            remaining = deadline - loop.time()
            if remaining < 0.2:
                break
            # Pull requests of at most PULL_MESSAGES, each given the time to arrive whole:
            # nats-py returns what came when its timeout passes, while the server goes on
            # sending the rest of the request to an inbox about to close; those messages
            # would wait for ack_wait to be redelivered.
            want = min(PULL_MESSAGES, config.batch - len(msgs))
            try:
                got = await sub.fetch(want, timeout=max(remaining, PULL_SECONDS))
            except TimeoutError:  # nats.errors.TimeoutError, or the bare one nats-py
                # raises when its deadline passes between its no-wait probe and the
                # lingering request: nothing came either way
                break
            msgs.extend(got)
            if got and got[-1].metadata.num_pending == 0:
                break  # drained: do not wait for more
        block, empty = _block(msgs, max_line_bytes)
        lag = _lag(await js.consumer_info(config.stream, config.consumer))
        receipts = [(int(m.metadata.sequence.stream), str(m.reply)) for m in msgs]
        return Fetched(block, receipts, empty, lag)

    return _run(config, "fetch messages", work)


def confirm(config: NatsSource, receipts: Sequence[tuple[int, str]], dead: dict[int, str]) -> Lag:
    """Acknowledge a committed batch: ``+ACK`` each message, ``+TERM <reason>`` those that
    became dead letters (``dead``: stream sequence -> reason). Returns the lag after."""

    async def work(nc: Any) -> Lag:
        for seq, reply in receipts:
            reason = dead.get(seq)
            payload = b"+ACK" if reason is None else b"+TERM " + f"dead letter: {reason}".encode()
            await nc.publish(reply, payload)
        await nc.flush()
        js = nc.jetstream()
        return _lag(await js.consumer_info(config.stream, config.consumer))

    return _run(config, "acknowledge messages", work)


def lag(config: NatsSource) -> Lag:
    """The consumer's backlog (the stream and consumer are created when absent)."""

    async def work(nc: Any) -> Lag:
        js = nc.jetstream()
        await _ensure(js, config)
        return _lag(await js.consumer_info(config.stream, config.consumer))

    return _run(config, "read the consumer's state", work)


def source_from_settings(settings: Settings) -> NatsSource:
    """The NATS source of ``settings`` (``SOC_NATS_URL`` must be set)."""
    if not settings.nats_url:
        raise ConfigurationError("the NATS source is not configured: set SOC_NATS_URL")
    return NatsSource(
        url=settings.nats_url,
        stream=settings.nats_stream,
        subject=settings.nats_subject,
        consumer=settings.nats_consumer,
        batch=settings.nats_batch,
        wait_seconds=float(settings.nats_wait_seconds),
        ack_wait_seconds=float(settings.nats_ack_wait_seconds),
    )
