"""Benchmark: Wonde webhook intake (``POST /v1/webhooks/wonde``) under a fixed offered rate.

The API runs in its own uvicorn process (one process, as one production instance) on a scratch
database and queue. Requests fall due open-loop on a fixed schedule (``--rate`` a second for
``--seconds``), whatever the replies, and go out on the first free one of 256 keep-alive connections
(a raw HTTP/1.1 client: it must cost less CPU than the server it shares the machine with), so a slow
server shows as latency and errors rather than as a lower sending rate. Every request is a distinct
``schoolApproved`` event (none is a duplicate), so each one is stored, its token encrypted, and a
``process_webhook`` job queued in Redis; no worker runs, so the jobs wait in the scratch queue and
are deleted at the end.

Latency is measured from the moment the request fell due (so a client or server that falls behind
is not hidden) to the last byte of the reply. Prints offered and achieved throughput,
p50/p95/p99/max latency, errors, and the server's CPU time per request.

    .venv/bin/python -m bench.webhook_intake --rate 200 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import asyncpg

from bench.serving import Scratch, api_server, drop_queue, new_tag, percentile
from tests.fixtures.database import create_migrated_database, drop_database

WARM_UP_PER_CONNECTION = 2
WARM_UP_REQUESTS = 25 * WARM_UP_PER_CONNECTION


@dataclass(frozen=True)
class Reply:
    due: float
    sent: float
    done: float
    outcome: str  # "202", another status code, or the exception's name


def _payload(tag: str, index: int) -> dict[str, str]:
    return {
        "payload_type": "schoolApproved",
        "school_id": f"B{tag}{index:07d}",
        "school_name": f"Bench School {index}",
        "school_token": secrets.token_hex(20),
        "school_la_code": "873",
        "school_urn": str(100000 + index),
        "school_establishment_number": "2001",
    }


class Connection:
    """One keep-alive HTTP/1.1 connection, raw: a load generator built on a full client spends more CPU
    than the server under test once replies fall behind (it shares the machine)."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> str:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line, *headers = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in headers if h)}
        await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status_line.split(" ")[1]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def offer(url: str, tag: str, rate: float, seconds: float, connections: int) -> list[Reply]:
    """Requests fall due on a fixed schedule and wait for a free connection (of ``connections``); each
    is timed from when it fell due, so waiting for a connection counts as latency."""
    parts = urlsplit(url)
    path = f"{parts.path}?{parts.query}"
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    due_queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    replies: list[Reply] = []

    async def sender(warm_up: int) -> None:
        connection = Connection(host, port, path)
        for index in range(warm_up):  # opens the connection and warms the server's code paths; not counted
            await connection.post(json.dumps(_payload(tag, 9_000_000 + warm_up * 1000 + index)).encode())
        ready.set()
        while (item := await due_queue.get()) is not None:
            index, due = item
            sent = time.perf_counter()
            try:
                outcome = await asyncio.wait_for(connection.post(json.dumps(_payload(tag, index)).encode()), 30)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                outcome = type(exc).__name__
                connection.close()
            replies.append(Reply(due, sent, time.perf_counter(), outcome))
        connection.close()

    ready = asyncio.Event()
    senders = [asyncio.create_task(sender(WARM_UP_PER_CONNECTION if i < 25 else 0)) for i in range(connections)]
    await ready.wait()
    await asyncio.sleep(0.5)
    total = int(rate * seconds)
    start = time.perf_counter() + 0.1
    for index in range(total):
        due = start + index / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        due_queue.put_nowait((index, due))
    for _ in senders:
        due_queue.put_nowait(None)
    await asyncio.gather(*senders)
    return replies


def report(replies: list[Reply], rate: float, seconds: float, cpu: float, stored: int) -> None:
    outcomes = Counter(r.outcome for r in replies)
    accepted = [r for r in replies if r.outcome == "202"]
    latencies = [(r.done - r.due) * 1000 for r in accepted]
    span = max(r.done for r in replies) - min(r.due for r in replies)
    lag = max(r.sent - r.due for r in replies) * 1000
    errors = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if k != "202") or "none"
    print(f"webhook intake, open loop, {rate:.0f} requests/s offered for {seconds:.0f} s (one uvicorn process):")
    print(f"(load average when done: {Path('/proc/loadavg').read_text().split()[0]})")
    print()
    print(
        "| offered | sent | accepted (202) | errors | achieved | p50 | p95 | p99 | max | server CPU/request |"
        " stored events |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {rate:.0f}/s | {len(replies)} | {len(accepted)} | {errors} | {len(accepted) / span:.0f}/s |"
        f" {percentile(latencies, 0.5):.1f} ms | {percentile(latencies, 0.95):.1f} ms |"
        f" {percentile(latencies, 0.99):.1f} ms | {max(latencies, default=float('nan')):.1f} ms |"
        f" {cpu / len(replies) * 1000:.2f} ms | {stored} |"
    )
    print()
    print(f"(the sender's worst lag behind its schedule: {lag:.1f} ms)")


async def _stored(database_url: str) -> int:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        count: int = await connection.fetchval("SELECT count(*) FROM webhook_events")
        return count
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second offered")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=256, help="keep-alive connections the load is sent on")
    args = parser.parse_args()
    tag = new_tag()
    scratch = Scratch(tag, create_migrated_database(f"bandsync_bench_{tag}"))
    secret = secrets.token_urlsafe(32)
    try:
        with api_server(scratch, BANDSYNC_WONDE__WEBHOOK_SECRET=secret) as server:
            url = f"{server.base_url}/v1/webhooks/wonde?secret={quote(secret, safe='')}"
            cpu_before = server.process.cpu_seconds()
            replies = asyncio.run(offer(url, tag, args.rate, args.seconds, args.connections))
            cpu = server.process.cpu_seconds() - cpu_before
        stored = asyncio.run(_stored(scratch.database_url)) - WARM_UP_REQUESTS
        report(replies, args.rate, args.seconds, cpu, stored)
    finally:
        asyncio.run(drop_queue(scratch.queue_name))
        drop_database(scratch.database_name)


if __name__ == "__main__":
    main()
