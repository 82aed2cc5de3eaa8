"""Source read throughput: S3 objects (moto's S3 server) and NATS JetStream messages
(a real nats-server), from the source to blocks of lines, before parsing.

S3: ``S3Area.list_files`` + ``S3Area.blocks`` over K gzipped objects of seed-format lines
(streamed, gzip sniffed, split into line blocks). Ceiling: boto3 ``get_object().read()``
plus ``gzip.decompress`` of the same objects (whole bytes, no lines). NATS: the micro-batch
path, ``sources.nats.fetch`` (connect, fetch up to a batch, build the block) then
``confirm`` (ack each), until the consumer is drained. Ceiling: nats-py on one connection,
``fetch`` of the same batches and ``ack`` of each message, on a second durable consumer.
Ratios are ours / ceiling in lines (messages) per second.

    .venv/bin/python benchmarks/sources.py [--objects 20] [--lines 5000] [--messages 20000]
"""

import argparse
import asyncio
import gzip
import logging
import tempfile
from pathlib import Path

from _common import generate_events, header, line, rate, timed, to_lines

from soc_platform.hot.embedded import free_port
from soc_platform.sources import nats as nats_source
from soc_platform.sources.s3 import S3Area, S3Source
from tests.natskit import nats_server, publish


def bench_s3(objects: int, lines: int) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="b",
            aws_secret_access_key="b",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket="bench")
        body = gzip.compress(to_lines(generate_events(lines)))
        for i in range(objects):
            client.put_object(Bucket="bench", Key=f"AWSLogs/1/WAFLogs/{i:05d}.log.gz", Body=body)
        area = S3Area(
            S3Source(
                bucket="bench",
                prefix="AWSLogs/",
                endpoint=endpoint,
                access_key_id="b",
                secret_access_key="b",
            )
        )

        def ours() -> int:
            return sum(len(b.lines) for f in area.list_files() for b in area.blocks(f.path))

        def ceiling() -> int:
            total = 0
            for f in area.list_files():
                data = client.get_object(Bucket="bench", Key=f.path)["Body"].read()
                total += gzip.decompress(data).count(b"\n")
            return total

        ours()  # warm-up (connections)
        dt_ours, n_ours = timed(ours)
        dt_ceil, n_ceil = timed(ceiling)
        assert n_ours == n_ceil == objects * lines, (n_ours, n_ceil)
        line(f"s3: {objects} objects x {lines} lines, ours", f"{rate(n_ours, dt_ours)} lines/s")
        line("s3: boto3 read + gzip.decompress (ceiling)", f"{rate(n_ceil, dt_ceil)} lines/s")
        line("s3: ratio ours / ceiling", f"{(n_ours / dt_ours) / (n_ceil / dt_ceil):.2f}")
    finally:
        server.stop()


def bench_nats(messages: int, batch: int) -> None:
    import nats

    payloads = to_lines(generate_events(messages)).splitlines()
    with tempfile.TemporaryDirectory() as tmp, nats_server(Path(tmp)) as server:
        publish(server.url, "waf.bench", payloads)
        config = nats_source.NatsSource(
            url=server.url, consumer="ours", batch=batch, wait_seconds=2.0
        )

        def ours() -> int:
            total = 0
            while True:
                fetched = nats_source.fetch(config)
                if not fetched.receipts:
                    return total
                nats_source.confirm(config, fetched.receipts, {})
                total += len(fetched.block.lines)

        async def raw() -> int:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            from nats.js.api import ConsumerConfig

            # as ours: room for a whole batch awaiting acks (the default is 1000)
            config = ConsumerConfig(max_ack_pending=4 * batch)
            sub = await js.pull_subscribe("waf.>", durable="ceiling", stream="WAF", config=config)
            total = 0
            while True:
                try:
                    msgs = await sub.fetch(batch, timeout=2.0)
                except nats.errors.TimeoutError:
                    break
                for m in msgs:
                    await m.ack()
                await nc.flush()
                total += len(msgs)
            await nc.close()
            return total

        dt_ours, n_ours = timed(ours)
        dt_ceil, n_ceil = timed(lambda: asyncio.run(raw()))
        assert n_ours == n_ceil == messages, (n_ours, n_ceil)
        # both end with one empty wait (2 s): not part of the throughput
        dt_ours, dt_ceil = max(dt_ours - 2.0, 1e-3), max(dt_ceil - 2.0, 1e-3)
        line(
            f"nats: {messages} messages, batches of {batch}, ours", f"{rate(n_ours, dt_ours)} msg/s"
        )
        line(
            "nats: nats-py fetch + ack, one connection (ceiling)", f"{rate(n_ceil, dt_ceil)} msg/s"
        )
        line("nats: ratio ours / ceiling", f"{(n_ours / dt_ours) / (n_ceil / dt_ceil):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=20)
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=10_000)
    args = ap.parse_args()
    header("sources: S3 objects and NATS messages to line blocks")
    bench_s3(args.objects, args.lines)
    bench_nats(args.messages, args.batch)


if __name__ == "__main__":
    main()
