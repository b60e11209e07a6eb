"""Live updates at fan-out: CLIENTS websocket clients on one space's group, through the real
ASGI server (daphne) and channels_redis, while events are published to that group (issue #11).

One run, against 127.0.0.1 only:

1. daphne serves ``arena.asgi:application`` (the same command ``manage.py serve`` runs), its
   channel layer on Redis (``--redis-url``, db 13 by default, or the embedded Redis);
2. this process opens CLIENTS websockets to ``/ws/spaces/<slug>/`` (one asyncio loop, the
   ``websockets`` library) and waits until every one is accepted (the consumer joins the group
   before it accepts);
3. a publisher process calls the project's own ``arena.realtime.publish`` EVENTS times at RATE
   per second, to ``space_<slug>``; each event carries its sequence number and the time it was
   published;
4. every client checks that it gets every event, in order, once; the run prints received /
   expected, missing, out-of-order and duplicate counts, and the delivery latency (publish to
   receipt) p50/p99, and counts channels_redis's "over capacity" log lines.

Why events can be lost: channels_redis keeps every channel's messages in Redis, up to
``capacity`` (default 100) per Redis key, and a ``group_send`` to a full one is dropped with only
an INFO log line. All the consumers of one daphne process share one key ("specific.<id>!"), so
the capacity is per web process, not per client: a web process whose event loop falls behind
by 100 group messages drops the next ones for all its clients. Inside the process, each
consumer's buffer is a BoundedQueue of the same capacity that drops its oldest message when full
(a slow client). ``--capacity N`` runs the server and the publisher with a settings module that
raises it (the change the run can then show loses nothing); the default is the project's.

    .venv/bin/python bench/ws_fanout.py [--clients 500] [--events 300] [--rate 10] \
        [--capacity N] [--redis-url redis://127.0.0.1:6379/13 | --embedded-redis] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from load_common import (
    PYTHON,
    ROOT,
    daphne_cmd,
    free_port,
    fresh_var_dir,
    latency_summary,
    log,
    start,
    stop,
    stop_embedded_redis,
    wait_until,
)
from websockets.asyncio.client import connect

# --- knobs ---------------------------------------------------------------------------------
CLIENTS = 500
EVENTS = 300
RATE = 10.0  # events per second
SLUG = "fanout"
EVENT = "bench.tick"
REDIS_URL = "redis://127.0.0.1:6379/13"
CONNECT_CONCURRENCY = 50  # handshakes in flight at once
DRAIN_SECONDS = 30  # after the last publish: how long clients may take to receive the rest


# --- pure helpers (tests/test_bench_scripts.py) ----------------------------------------------


@dataclass
class SeqTracker:
    """One client's view of a numbered stream (0, 1, 2, ...): what arrived, what is missing,
    what came out of order or twice."""

    expected: int
    received: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    last: int = -1
    seen: set[int] = field(default_factory=set)

    def observe(self, seq: int) -> None:
        self.received += 1
        if seq in self.seen:
            self.duplicates += 1
            return
        if seq < self.last:
            self.out_of_order += 1
        self.seen.add(seq)
        self.last = max(self.last, seq)

    @property
    def missing(self) -> int:
        return self.expected - len(self.seen)

    @property
    def complete(self) -> bool:
        return len(self.seen) >= self.expected


def fanout_totals(trackers: list[SeqTracker]) -> dict[str, int]:
    """Sums over the clients, and how many clients lost anything."""
    return {
        "expected": sum(t.expected for t in trackers),
        "received": sum(t.received - t.duplicates for t in trackers),
        "missing": sum(t.missing for t in trackers),
        "out_of_order": sum(t.out_of_order for t in trackers),
        "duplicates": sum(t.duplicates for t in trackers),
        "clients_with_loss": sum(1 for t in trackers if t.missing),
    }


def settings_module_text(capacity: int) -> str:
    """A settings module: the project's settings with the channel layer's capacity raised."""
    # A new dict, not an assignment into the imported one: arena.settings stays as it was.
    return (
        "from arena.settings import *  # noqa: F403\n"
        "_layer = CHANNEL_LAYERS['default']  # noqa: F405\n"
        "CHANNEL_LAYERS = {'default': {**_layer, 'CONFIG': "
        f"{{**_layer['CONFIG'], 'capacity': {int(capacity)}}}}}}}\n"
    )


# --- phase: publish (a child process with Django) ---------------------------------------------


def publish_phase(*, group: str, events: int, rate: float) -> dict:
    """``arena.realtime.publish`` EVENTS times at RATE per second, on a fixed schedule (a late
    send does not push the next ones back)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from arena.realtime import publish

    started = time.monotonic()
    late = 0
    for seq in range(events):
        due = started + seq / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            late += 1
        publish(group, EVENT, {"seq": seq, "t": time.time()})
    return {"published": events, "seconds": round(time.monotonic() - started, 2), "late": late}


# --- clients (this process: asyncio, no Django) -----------------------------------------------


async def client(url: str, origin: str, tracker: SeqTracker, latencies: list[float], opened, gate):
    async with gate:
        ws = await connect(url, origin=origin, open_timeout=60, max_queue=None)
    opened.append(ws)
    try:
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            if message.get("event") != EVENT:
                continue  # another event of the group (a real match's), not the bench's
            payload = message["payload"]
            tracker.observe(payload["seq"])
            latencies.append((now - payload["t"]) * 1000)
            if tracker.complete:
                break
    finally:
        await ws.close()


async def fanout(args, port: int, env: dict[str, str]) -> dict:
    url = f"ws://127.0.0.1:{port}/ws/spaces/{SLUG}/"
    origin = f"http://127.0.0.1:{port}"
    trackers = [SeqTracker(expected=args.events) for _ in range(args.clients)]
    latencies: list[float] = []
    opened: list = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    started = time.monotonic()
    tasks = [
        asyncio.create_task(client(url, origin, tracker, latencies, opened, gate))
        for tracker in trackers
    ]
    while len(opened) < args.clients:
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            raise RuntimeError(f"a client could not connect: {failed[0].exception()!r}")
        if time.monotonic() - started > 300:
            raise TimeoutError(f"only {len(opened)} of {args.clients} clients connected")
        await asyncio.sleep(0.2)
    connect_s = time.monotonic() - started
    log(f"==> {args.clients} clients connected in {connect_s:.1f} s; publishing")
    publisher = await asyncio.create_subprocess_exec(
        PYTHON,
        str(Path(__file__).resolve()),
        "--phase",
        "publish",
        "--events",
        str(args.events),
        "--rate",
        str(args.rate),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await publisher.communicate()
    if publisher.returncode != 0:
        raise RuntimeError(f"the publisher failed:\n{err.decode()[-3000:]}")
    published = json.loads(out.decode().strip().splitlines()[-1])
    over_capacity_lines = err.decode().count("over capacity")
    _done, pending = await asyncio.wait(tasks, timeout=args.drain)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return {
        "clients": args.clients,
        "connect_s": round(connect_s, 1),
        "publisher": published,
        "over_capacity_log_lines": over_capacity_lines,
        **fanout_totals(trackers),
        "latency_ms": latency_summary(latencies),
    }


# --- the run ----------------------------------------------------------------------------------


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run(args) -> int:
    var_dir = fresh_var_dir("h-load-ws")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "ARENA_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "DJANGO_SETTINGS_MODULE": "arena.settings",
        # INFO: channels_redis says "N of M channels over capacity" at INFO, and only there.
        "LOG_LEVEL": "INFO",
        # The space socket reads no table; the web process still needs a database configured.
        "DATABASE_URL": f"sqlite:///{var_dir / 'fanout.sqlite3'}",
    }
    if not args.embedded_redis:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()  # this bench's own db
        env["REDIS_URL"] = args.redis_url
    if args.capacity:
        (var_dir / "ws_fanout_settings.py").write_text(settings_module_text(args.capacity))
        env["DJANGO_SETTINGS_MODULE"] = "ws_fanout_settings"
        env["PYTHONPATH"] = os.pathsep.join([str(var_dir), str(ROOT)])
    port = free_port()
    web_log = var_dir / "web.log"
    web = start(daphne_cmd(port), env, web_log)
    try:
        wait_until(lambda: port_open(port), 120, "daphne")
        if args.embedded_redis:
            # asgi.py started it; every other process must find the same socket.
            env["REDIS_URL"] = f"unix://{var_dir / 'redis.sock'}"
        client_cpu = time.process_time()
        result = asyncio.run(fanout(args, port, env))
        # Who was busy: the web process's CPU seconds beside this client process's.
        result["cpu_s"] = {
            "web": round(sum(psutil.Process(web.pid).cpu_times()[:2]), 1),
            "clients": round(time.process_time() - client_cpu, 1),
        }
    finally:
        stop(web)
        stop_embedded_redis(var_dir)
    result["capacity"] = args.capacity or 100
    result["rate"] = args.rate
    result["events"] = args.events
    result["server_over_capacity_log_lines"] = web_log.read_text(errors="replace").count(
        "over capacity"
    )
    lossless = result["missing"] == 0 and result["out_of_order"] == 0
    result["verdict"] = "lossless, in order" if lossless else "LOST OR REORDERED EVENTS"
    result["logs"] = str(var_dir)
    if args.json:
        print(json.dumps(result))
    else:
        lat = result["latency_ms"]
        print(
            f"{result['clients']} clients, {args.events} events at {args.rate}/s, channel "
            f"capacity {result['capacity']} (connected in {result['connect_s']} s)"
        )
        print(
            f"received {result['received']} / {result['expected']}; missing "
            f"{result['missing']} (clients with loss: {result['clients_with_loss']}); "
            f"out of order {result['out_of_order']}; duplicates {result['duplicates']}"
        )
        print(
            f"delivery latency p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms; "
            f"publisher late sends {result['publisher']['late']}; 'over capacity' log lines: "
            f"{result['over_capacity_log_lines']}"
        )
        print(f"CPU seconds: web {result['cpu_s']['web']}, clients {result['cpu_s']['clients']}")
        print(f"verdict: {result['verdict']} (logs in {result['logs']})")
    return 0 if lossless else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--rate", type=float, default=RATE, help="events per second")
    parser.add_argument("--capacity", type=int, default=0, help="raise channels_redis capacity")
    parser.add_argument("--drain", type=float, default=DRAIN_SECONDS)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--embedded-redis", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--phase", choices=["run", "publish"], default="run")
    args = parser.parse_args(argv)
    if args.phase == "publish":
        print(json.dumps(publish_phase(group=f"space_{SLUG}", events=args.events, rate=args.rate)))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
