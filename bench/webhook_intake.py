"""Benchmark: Wonde webhook intake (``POST /v1/webhooks/wonde``) under a fixed offered rate.

The API runs in its own uvicorn process (one process, as one production instance) on a scratch
database and queue. Requests are sent open-loop on a fixed schedule (``--rate`` a second for
``--seconds``), whatever the replies, so a slow server shows as latency and errors rather than as a
lower sending rate. Every request is a distinct ``schoolApproved`` event (none is a duplicate), so
each one is stored, its token encrypted, and a ``process_webhook`` job queued in Redis; no worker
runs, so the jobs wait in the scratch queue and are deleted at the end.

Latency is measured from the moment the request was due to be sent (so a client or server that
falls behind is not hidden), to the last byte of the reply. Prints offered and achieved throughput,
p50/p95/p99/max latency, errors, and the server's CPU time per request.

    .venv/bin/python -m bench.webhook_intake --rate 200 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote

import asyncpg
import httpx

from bench.serving import Scratch, api_server, drop_queue, new_tag, percentile
from tests.conftest import create_migrated_database, drop_database

WARM_UP_REQUESTS = 50


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


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, str], due: float) -> Reply:
    sent = time.perf_counter()
    try:
        response = await client.post(url, json=body)
        outcome = str(response.status_code)
    except httpx.HTTPError as exc:
        outcome = type(exc).__name__
    return Reply(due, sent, time.perf_counter(), outcome)


async def offer(url: str, tag: str, rate: float, seconds: float) -> list[Reply]:
    """Send ``rate * seconds`` requests on schedule, each in its own task; wait for every reply."""
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0)) as client:
        for index in range(WARM_UP_REQUESTS):  # connections open, code paths warm; not counted
            await client.post(url, json=_payload(tag, 9_000_000 + index))
        total = int(rate * seconds)
        start = time.perf_counter() + 0.2
        tasks = []
        for index in range(total):
            due = start + index / rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_post(client, url, _payload(tag, index), due)))
        return list(await asyncio.gather(*tasks))


def report(replies: list[Reply], rate: float, seconds: float, cpu: float, stored: int) -> None:
    outcomes = Counter(r.outcome for r in replies)
    accepted = [r for r in replies if r.outcome == "202"]
    latencies = [(r.done - r.due) * 1000 for r in accepted]
    span = max(r.done for r in replies) - min(r.due for r in replies)
    lag = max(r.sent - r.due for r in replies) * 1000
    errors = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if k != "202") or "none"
    print(f"webhook intake, open loop, {rate:.0f} requests/s offered for {seconds:.0f} s (one uvicorn process):")
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
    args = parser.parse_args()
    tag = new_tag()
    scratch = Scratch(tag, create_migrated_database(f"bandsync_bench_{tag}"))
    secret = secrets.token_urlsafe(32)
    try:
        with api_server(scratch, BANDSYNC_WONDE__WEBHOOK_SECRET=secret) as server:
            url = f"{server.base_url}/v1/webhooks/wonde?secret={quote(secret, safe='')}"
            cpu_before = server.process.cpu_seconds()
            replies = asyncio.run(offer(url, tag, args.rate, args.seconds))
            cpu = server.process.cpu_seconds() - cpu_before
        stored = asyncio.run(_stored(scratch.database_url)) - WARM_UP_REQUESTS
        report(replies, args.rate, args.seconds, cpu, stored)
    finally:
        asyncio.run(drop_queue(scratch.queue_name))
        drop_database(scratch.database_name)


if __name__ == "__main__":
    main()
