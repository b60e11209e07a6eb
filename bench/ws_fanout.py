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
``capacity`` per Redis key (the project sets 1000, ``ARENA_CHANNELS_CAPACITY``; channels_redis's
own default is 100), and a ``group_send`` to a full one is dropped with only an INFO log line.
All the consumers of one daphne process share one key ("specific.<id>!"), so the capacity is per
web process, not per client: a web process whose event loop falls behind by that many group
messages drops the next ones for all its clients. Inside the process, each consumer's buffer is
a BoundedQueue of the same capacity that drops its oldest message when full (a slow client).
A second limit is time: a message older than ``expiry`` (300 s, ``ARENA_CHANNELS_EXPIRY_S``) is
removed from the key by the next ``group_send`` to it, and the whole key expires ``expiry``
after the last one, silently both times: a web process more than ``expiry`` behind loses events
whatever the capacity. ``--capacity N`` runs every process of the run with a settings module
that sets the capacity, ``--expiry S`` with that expiry; the run prints what the processes
really had. "Missing" is split into events lost in gaps (a later event came) and at the end
(nothing after them came before the run stopped listening).

``--matches``: the same, while real matches run in that space. A fresh database (PostgreSQL
``--pg-db``, or ``--sqlite``), migrated; through the project's services a creator, the open
space (verifier-judged, 2 agents a match, a 10-credit tier) and PLAYERS players with credits and
an agent each; one Celery worker with beat (as ``manage.py serve`` starts it, inference backend
``scripted``: every match is rolled out, judged and settled for real, only the model's text is
scripted). Once the clients are connected, a feeder process enters every agent that is neither
waiting nor in an unfinished match (``entry_create``: the entries form the matches) for as long
as the publisher runs, then withdraws what still waits (``entry_leave``); the worker plays on
until no match is in flight. The synthetic publisher runs alongside, so the exact in-order check
of the numbered events still holds, and every client also records every other event of the
group (the real ones: ``entry.queued``/``entry.left``, ``match.state`` for each status).

The ground truth for the real events is a reference listener: a process of its own that joins
the same group on the channel layer (``new_channel`` + ``group_add``, the way a consumer does,
with the run's settings) and only reads, writing each event to a file as it comes. It has one
channel and nothing else to do, so it is never the one that falls behind; that it lost nothing
is checked, not assumed (it tracks the numbered events too). Every client must receive exactly
its sequence of real events (name + the whole payload, e.g. match id and status), in the same
order. Why the same order is expected: every ``group_send`` is one Lua script that adds the
message to all the group's channel keys at once, and each channel key is a sorted set read
oldest first, so the reference's key and the web process's key hold the same messages in the
same order. (One caveat, which the report would show as "reordered": the score of a message is
its sender's clock when it sent, so two real events from two processes (the feeder and a worker)
sent within the same few milliseconds can be read in either order by a reader that pops between
their two arrivals; events of one match are causal and cannot swap.)

Real events carry no publish time, so no delivery latency is claimed for them; what is printed
is each client's lag behind the reference listener (its receipt minus the reference's receipt
of the same event): not a delivery latency (the reference's own delay after the publish is not
in it), but how much later the web path delivers than a direct reader of the layer.

    .venv/bin/python bench/ws_fanout.py [--clients 500] [--events 300] [--rate 10] \
        [--capacity N] [--expiry S] [--json] \
        [--redis-url redis://127.0.0.1:6379/13 | --embedded-redis] \
        [--matches [--players 8] [--pg-db arena_fanout | --sqlite]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
import uuid
from collections import Counter
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
    manage,
    recreate_postgres_database,
    run_phase,
    start,
    stop,
    stop_embedded_redis,
    wait_until,
    worker_cmd,
    worker_ready,
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
# --matches
PLAYERS = 8  # one agent each: at most PLAYERS / 2 matches in flight
TIER = "standard"
FEE = 10
GRANT = 1_000_000  # credits per player: nobody runs short in a run
PG_URL = "postgres://postgres@127.0.0.1:5432"
PG_DB = "arena_fanout"
FEED_POLL_S = 0.5  # how often the feeder looks for agents to enter
MATCH_DRAIN_SECONDS = 180  # after the feeder stops: how long in-flight matches may take to end
QUIET_S = 3.0  # the reference must have heard nothing this long before the run ends
FINAL_STATUSES = ("settled", "cancelled", "failed")  # arena.models.Match.FINAL


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


def missing_split(trackers: list[SeqTracker]) -> dict[str, int]:
    """Where the missing numbered events were: in gaps (a later event came, these never will:
    dropped) or at the end (nothing after them came before the run stopped listening)."""
    at_end = sum(t.expected - 1 - t.last for t in trackers)
    return {"in_gaps": sum(t.missing for t in trackers) - at_end, "at_end": at_end}


def loss_patterns(trackers: list[SeqTracker]) -> int:
    """How many different sets of numbered events the clients with a loss lacked. One: every
    client lost the same events, so they were lost before the web process fanned them out (its
    Redis key: capacity or expiry); many: lost per client (a consumer's own buffer)."""
    return len({frozenset(range(t.expected)) - t.seen for t in trackers if t.missing})


def settings_module_text(capacity: int) -> str:
    """A settings module: the project's settings with the channel layer's capacity raised."""
    # A new dict, not an assignment into the imported one: arena.settings stays as it was.
    return (
        "from arena.settings import *  # noqa: F403\n"
        "_layer = CHANNEL_LAYERS['default']  # noqa: F405\n"
        "CHANNEL_LAYERS = {'default': {**_layer, 'CONFIG': "
        f"{{**_layer['CONFIG'], 'capacity': {int(capacity)}}}}}}}\n"
    )


def real_event_identity(event: str, payload: dict) -> str:
    """What makes two received real events the same event: its name and its whole payload
    (match id, status, ranks...), keys sorted, so a payload reads the same whichever reader
    decoded it. Both sides pass a payload that went through JSON (keys are strings)."""
    return event + " " + json.dumps(payload, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class SequenceDiff:
    """How a client's sequence of real events differs from the reference's: events it lacks,
    events the reference never had (or had fewer times), and whether the events both have
    came in another order."""

    missing: int
    extra: int
    reordered: bool
    prefix: bool = False  # the client's events are the reference's first ones: only the end lacks

    @property
    def identical(self) -> bool:
        return not (self.missing or self.extra or self.reordered)


def diff_against_reference(reference: list, received: list) -> SequenceDiff:
    if reference == received:
        return SequenceDiff(missing=0, extra=0, reordered=False)
    want, got = Counter(reference), Counter(received)
    common = want & got

    def common_only(sequence: list) -> list:
        left = Counter(common)
        kept = []
        for item in sequence:
            if left[item] > 0:
                left[item] -= 1
                kept.append(item)
        return kept

    return SequenceDiff(
        missing=sum((want - got).values()),
        extra=sum((got - want).values()),
        reordered=common_only(reference) != common_only(received),
        prefix=received == reference[: len(received)],
    )


def real_event_totals(reference: list, clients: list[list]) -> dict[str, int]:
    """Every client's sequence against the reference's: how many differ, and how."""
    diffs = [diff_against_reference(reference, received) for received in clients]
    return {
        "reference_events": len(reference),
        "clients": len(clients),
        "clients_differing": sum(1 for d in diffs if not d.identical),
        "clients_missing_events": sum(1 for d in diffs if d.missing),
        "clients_missing_only_the_end": sum(1 for d in diffs if d.missing and d.prefix),
        "clients_with_extra_events": sum(1 for d in diffs if d.extra),
        "clients_reordered": sum(1 for d in diffs if d.reordered),
        "missing": sum(d.missing for d in diffs),
        "extra": sum(d.extra for d in diffs),
    }


def lag_behind_ms(
    reference_ids: list, reference_times: list[float], ids: list, times: list[float]
) -> list[float]:
    """A client's receipt of each event minus the reference's receipt of the same one (the
    n-th time the client got an event pairs with the n-th time the reference did; an event the
    reference never had, or had fewer times, has no lag)."""
    when: dict = {}
    for event, at in zip(reference_ids, reference_times, strict=True):
        when.setdefault(event, []).append(at)
    seen: Counter = Counter()
    lags = []
    for event, at in zip(ids, times, strict=True):
        nth = seen[event]
        seen[event] += 1
        if nth < len(when.get(event, ())):
            lags.append((at - when[event][nth]) * 1000)
    return lags


class MatchBook:
    """The matches of a space as its group's events tell them: each one's latest status."""

    def __init__(self) -> None:
        self.status: dict[int, str] = {}

    def observe(self, event: str, payload: dict) -> None:
        if event == "match.state" and "match" in payload:
            self.status[payload["match"]] = payload["status"]

    @property
    def in_flight(self) -> set[int]:
        return {match for match, status in self.status.items() if status not in FINAL_STATUSES}

    def count(self, status: str) -> int:
        return sum(1 for value in self.status.values() if value == status)


# --- phases in child processes (with Django) ---------------------------------------------------


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def publish_phase(*, group: str, events: int, rate: float) -> dict:
    """``arena.realtime.publish`` EVENTS times at RATE per second, on a fixed schedule (a late
    send does not push the next ones back)."""
    django_setup()
    from channels.layers import get_channel_layer

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
    return {
        "published": events,
        "seconds": round(time.monotonic() - started, 2),
        "late": late,
        # What this run's settings really gave.
        "capacity": get_channel_layer().capacity,
        "expiry_s": get_channel_layer().expiry,
    }


def setup_phase(players: int) -> dict:
    """--matches: creator, the open space, players with credits and one agent each, through
    the services (the same arena as bench/load_api.py's)."""
    django_setup()
    from load_fixtures import bench_player, open_bench_space

    open_bench_space(slug=SLUG, title="Fan-out", creator_name="fanout-creator", tier=TIER, fee=FEE)
    agents = [bench_player(prefix="fanout", index=i, grant=GRANT)[1].pk for i in range(players)]
    return {"space": SLUG, "agents": agents}


def feed_phase(seconds: float) -> dict:
    """--matches: for SECONDS, enter every bench agent that is neither waiting nor in an
    unfinished match (the entries form the matches); then withdraw the entries still waiting,
    so that no match forms after the feeder is done."""
    django_setup()
    from django.db.models import Q

    from agents.models import Agent
    from arena.models import Entry, Match
    from arena.services.entries import entry_create, entry_leave
    from arena.services.errors import ArenaError
    from spaces.models import Space

    space = Space.objects.get(slug=SLUG)
    tier = space.fee_tiers.get(name=TIER)
    agents = list(Agent.objects.filter(name__startswith="fanout-agent-"))
    made = refused = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        busy = set(
            Entry.objects.filter(space=space)
            .filter(
                Q(status=Entry.Status.QUEUED)
                | Q(status=Entry.Status.MATCHED, match__status__in=_unfinished(Match))
            )
            .values_list("agent_id", flat=True)
        )
        for agent in agents:
            if agent.pk in busy:
                continue
            try:
                entry_create(agent=agent, space=space, fee_tier=tier, key=f"fanout:{uuid.uuid4()}")
                made += 1
            except ArenaError:
                refused += 1
        time.sleep(FEED_POLL_S)
    left = 0
    for entry in Entry.objects.filter(space=space, status=Entry.Status.QUEUED):
        try:
            entry_leave(entry=entry)
            left += 1
        except ArenaError:
            pass  # matched meanwhile: its match is played out like the others
    return {"entries": made, "refused": refused, "withdrawn": left}


def _unfinished(match_model) -> list[str]:
    return [s for s in match_model.Status.values if s not in match_model.FINAL]


def report_phase() -> dict:
    """--matches: matches and entries by status, from the database."""
    django_setup()
    from django.db.models import Count

    from arena.models import Entry, Match

    def by_status(model) -> dict[str, int]:
        rows = model.objects.values("status").annotate(n=Count("id"))
        return {row["status"]: row["n"] for row in rows}

    return {"matches": by_status(Match), "entries": by_status(Entry)}


def reference_phase(group: str, out: Path) -> None:
    """--matches: the reference listener. Joins ``group`` on the channel layer and writes every
    event it receives to ``out``, one JSON line each, with the time it came (a first line says
    it has joined). Runs until it is terminated."""
    django_setup()
    from channels.layers import get_channel_layer

    async def listen() -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        with out.open("a", buffering=1) as lines:  # line-buffered: the bench tails the file
            lines.write(json.dumps({"kind": "ready", "capacity": layer.capacity}) + "\n")
            while True:
                message = await layer.receive(channel)
                now = time.time()
                if message.get("type") != "arena.event":
                    continue
                if message["event"] == EVENT:
                    row = {"kind": "synthetic", "seq": message["payload"]["seq"], "t": now}
                else:
                    row = {
                        "kind": "real",
                        "event": message["event"],
                        "payload": message["payload"],
                        "t": now,
                    }
                lines.write(json.dumps(row) + "\n")

    asyncio.run(listen())


# --- clients (this process: asyncio, no Django) -----------------------------------------------


@dataclass
class RealLog:
    """--matches: the real events one client received (interned identities) and when."""

    ids: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


class Interner:
    """One small int per distinct real event, shared by the clients and the reference (500
    clients keep ints, not 500 copies of every payload); a received text is canonicalised once."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.by_text: dict[str, int] = {}

    def of(self, event: str, payload: dict) -> int:
        return self.ids.setdefault(real_event_identity(event, payload), len(self.ids))

    def of_text(self, raw: str, message: dict) -> int:
        known = self.by_text.get(raw)
        if known is None:
            known = self.by_text[raw] = self.of(message["event"], message["payload"])
        return known


async def client(
    url: str,
    origin: str,
    tracker: SeqTracker,
    latencies: list[float],
    opened,
    gate,
    real: RealLog | None = None,
    interner: Interner | None = None,
):
    """One websocket. Without ``real`` it leaves once it has every numbered event; with it
    (--matches) it records the other events too and listens until it is cancelled."""
    async with gate:
        ws = await connect(url, origin=origin, open_timeout=60, max_queue=None)
    opened.append(ws)
    try:
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            if message.get("event") != EVENT:
                if real is not None:  # a real event of the group (a match's, an entry's)
                    real.ids.append(interner.of_text(raw, message))
                    real.times.append(now)
                continue
            payload = message["payload"]
            tracker.observe(payload["seq"])
            latencies.append((now - payload["t"]) * 1000)
            if tracker.complete and real is None:
                break
    finally:
        await ws.close()


class ReferenceTail:
    """Reads the reference listener's file as it grows (whole lines only)."""

    def __init__(self, path: Path, interner: Interner, expected: int) -> None:
        self.path = path
        self.interner = interner
        self.offset = 0
        self.partial = ""
        self.ready: dict | None = None
        self.ids: list[int] = []
        self.times: list[float] = []
        self.synthetic = SeqTracker(expected=expected)
        self.book = MatchBook()
        self.names: Counter[str] = Counter()
        self.heard_at = time.monotonic()

    def poll(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open() as handle:
            handle.seek(self.offset)
            text = handle.read()
            self.offset = handle.tell()
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            row = json.loads(line)
            if row["kind"] == "ready":
                self.ready = row
            elif row["kind"] == "synthetic":
                self.synthetic.observe(row["seq"])
            else:
                self.ids.append(self.interner.of(row["event"], row["payload"]))
                self.times.append(row["t"])
                self.book.observe(row["event"], row["payload"])
                self.names[row["event"]] += 1
        if lines:
            self.heard_at = time.monotonic()
        return len(lines)

    def quiet_for(self) -> float:
        return time.monotonic() - self.heard_at


async def child(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        PYTHON,
        str(Path(__file__).resolve()),
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def child_result(process: asyncio.subprocess.Process, what: str) -> tuple[dict, str]:
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the {what} failed:\n{err.decode()[-3000:]}")
    return json.loads(out.decode().strip().splitlines()[-1]), err.decode()


async def fanout(args, port: int, env: dict[str, str], reference_file: Path | None = None) -> dict:
    children: list[asyncio.subprocess.Process] = []
    try:
        return await listen_and_publish(args, port, env, reference_file, children)
    finally:
        for process in children:  # on an error: no publisher, feeder or listener left behind
            if process.returncode is None:
                process.kill()
                await process.wait()


async def listen_and_publish(args, port, env, reference_file, children) -> dict:
    url = f"ws://127.0.0.1:{port}/ws/spaces/{SLUG}/"
    origin = f"http://127.0.0.1:{port}"
    trackers = [SeqTracker(expected=args.events) for _ in range(args.clients)]
    latencies: list[float] = []
    opened: list = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    interner = Interner()
    reals = [RealLog() for _ in trackers] if args.matches else [None] * len(trackers)
    reference = reference_process = None
    if args.matches:
        # Joined before any client connects, so it hears everything they can.
        reference = ReferenceTail(reference_file, interner, expected=args.events)
        reference_process = await child(
            env, "--phase", "reference", "--reference-file", str(reference_file)
        )
        children.append(reference_process)
        while reference.ready is None:
            if reference_process.returncode is not None:
                _, err = await reference_process.communicate()
                raise RuntimeError(f"the reference listener failed:\n{err.decode()[-3000:]}")
            reference.poll()
            await asyncio.sleep(0.2)
    started = time.monotonic()
    tasks = [
        asyncio.create_task(client(url, origin, tracker, latencies, opened, gate, real, interner))
        for tracker, real in zip(trackers, reals, strict=True)
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
    publisher = await child(
        env, "--phase", "publish", "--events", str(args.events), "--rate", str(args.rate)
    )
    children.append(publisher)
    feeder = None
    if args.matches:
        feeder = await child(env, "--phase", "feed", "--seconds", str(args.events / args.rate))
        children.append(feeder)
    published, publisher_err = await child_result(publisher, "publisher")
    over_capacity_lines = publisher_err.count("over capacity")
    result: dict = {}
    if feeder is not None:
        fed, feeder_err = await child_result(feeder, "feeder")
        over_capacity_lines += feeder_err.count("over capacity")
        result["feeder"] = fed
        log(f"==> feeder done {fed}; waiting for the matches in flight to end")
        drain_by = time.monotonic() + args.match_drain
        reference.poll()
        while (reference.book.in_flight or reference.quiet_for() < QUIET_S) and (
            time.monotonic() < drain_by
        ):
            await asyncio.sleep(0.5)
            reference.poll()
        result["unfinished_at_end"] = sorted(reference.book.in_flight)

        def caught_up() -> bool:
            return all(
                t.complete and len(r.ids) >= len(reference.ids)
                for t, r in zip(trackers, reals, strict=True)
            )

        def delivered() -> int:
            return sum(t.received for t in trackers) + sum(len(r.ids) for r in reals)

        # A web process far behind still delivers: listen for as long as anything arrives (what
        # is missing at the end is then lost, not late), until DRAIN seconds bring nothing.
        count, moved_at = delivered(), time.monotonic()
        while not caught_up() and time.monotonic() - moved_at < args.drain:
            await asyncio.sleep(0.5)
            if delivered() != count:
                count, moved_at = delivered(), time.monotonic()
        reference.poll()
        # A client listens until it is cancelled: one done already lost its socket.
        result["clients_ended_early"] = sum(1 for task in tasks if task.done())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if reference_process.returncode is not None:  # it must have listened to the end
            _, err = await reference_process.communicate()
            raise RuntimeError(f"the reference listener died:\n{err.decode()[-3000:]}")
        reference_process.terminate()
        await reference_process.communicate()
        reference.poll()
    else:
        _done, pending = await asyncio.wait(tasks, timeout=args.drain)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    result |= {
        "clients": args.clients,
        "connect_s": round(connect_s, 1),
        "publisher": published,
        "over_capacity_log_lines": over_capacity_lines,
        **fanout_totals(trackers),
        "missing_split": missing_split(trackers),
        "loss_patterns": loss_patterns(trackers),
        "latency_ms": latency_summary(latencies),
    }
    if args.matches:
        result["real"] = real_events_result(reference, reals)
    return result


def real_events_result(reference: ReferenceTail, reals: list[RealLog]) -> dict:
    totals = real_event_totals(reference.ids, [r.ids for r in reals])
    lags = [
        lag for r in reals for lag in lag_behind_ms(reference.ids, reference.times, r.ids, r.times)
    ]
    return {
        **totals,
        "reference_synthetic": {
            "received": len(reference.synthetic.seen),
            "missing": reference.synthetic.missing,
            "out_of_order": reference.synthetic.out_of_order,
            "duplicates": reference.synthetic.duplicates,
        },
        "reference_events_by_name": dict(reference.names),
        # One: every client got the same sequence (whatever was lost, was lost before fan-out).
        "distinct_client_sequences": len({tuple(r.ids) for r in reals}),
        "matches_seen": len(reference.book.status),
        "matches_settled_seen": reference.book.count("settled"),
        "lag_behind_reference_ms": latency_summary(lags),
    }


# --- the run ----------------------------------------------------------------------------------


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of a process (and of its living children)."""
    process = psutil.Process(pid)
    family = [process] + (process.children(recursive=True) if children else [])
    total = 0.0
    for member in family:
        try:
            total += sum(member.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def run(args) -> int:
    var_dir = fresh_var_dir("h-load-ws")
    drop = ("DATABASE_URL", "DATABASE_NAME", "REDIS_URL", "ETH_RPC_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
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
    if args.matches:
        env["ARENA_INFERENCE_BACKEND"] = "scripted"
        if not args.sqlite:
            env["DATABASE_URL"] = recreate_postgres_database(args.pg_url, args.pg_db)
    if not args.embedded_redis:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()  # this bench's own db
        env["REDIS_URL"] = args.redis_url
    if args.expiry:
        env["ARENA_CHANNELS_EXPIRY_S"] = str(args.expiry)
    if args.capacity:
        (var_dir / "ws_fanout_settings.py").write_text(settings_module_text(args.capacity))
        env["DJANGO_SETTINGS_MODULE"] = "ws_fanout_settings"
        env["PYTHONPATH"] = os.pathsep.join([str(var_dir), str(ROOT)])
    worker = None
    if args.matches:
        log(f"==> var dir {var_dir}; database {env['DATABASE_URL']}")
        manage(["migrate", "--verbosity", "0"], env)
        setup = run_phase(Path(__file__), ["--phase", "setup", "--players", str(args.players)], env)
        log(f"==> space {SLUG!r} with {len(setup['agents'])} agents")
        worker_log = var_dir / "worker.log"
        worker = start(worker_cmd(var_dir / "celerybeat-schedule"), env, worker_log)
    port = free_port()
    web_log = var_dir / "web.log"
    web = start(daphne_cmd(port), env, web_log)
    try:
        wait_until(lambda: port_open(port), 120, "daphne")
        if worker is not None:
            wait_until(lambda: worker_ready(worker_log), 180, "the worker")
        if args.embedded_redis:
            # asgi.py started it; every other process must find the same socket.
            env["REDIS_URL"] = f"unix://{var_dir / 'redis.sock'}"
        client_cpu = time.process_time()
        result = asyncio.run(fanout(args, port, env, var_dir / "reference.jsonl"))
        # Who was busy: the web process's CPU seconds beside this client process's (and the
        # worker's: its main process, pool and beat).
        result["cpu_s"] = {
            "web": round(cpu_seconds(web.pid), 1),
            "clients": round(time.process_time() - client_cpu, 1),
        }
        if worker is not None:
            result["cpu_s"]["worker"] = round(cpu_seconds(worker.pid, children=True), 1)
    finally:
        if worker is not None:
            stop(worker)
        stop(web)
        stop_embedded_redis(var_dir)
    if args.matches:
        result["database"] = run_phase(Path(__file__), ["--phase", "report"], env)
    result["capacity"] = result["publisher"]["capacity"]
    result["expiry_s"] = result["publisher"]["expiry_s"]
    result["rate"] = args.rate
    # The machine's load at the end (1, 5, 15 min): on a shared machine, who else was busy.
    result["load_average"] = [round(value, 1) for value in os.getloadavg()]
    result["events"] = args.events
    logs = [web_log] + ([worker_log] if worker is not None else [])
    result["server_over_capacity_log_lines"] = sum(
        path.read_text(errors="replace").count("over capacity") for path in logs
    )
    lossless = result["missing"] == 0 and result["out_of_order"] == 0
    problems = [] if lossless else ["LOST OR REORDERED EVENTS"]
    if args.matches:
        problems += matches_problems(result)
    result["verdict"] = (
        ("lossless, in order" + (", every client = the reference" if args.matches else ""))
        if not problems
        else "; ".join(problems)
    )
    result["logs"] = str(var_dir)
    print_result(result, args)
    return 0 if not problems else 1


def matches_problems(result: dict) -> list[str]:
    real = result["real"]
    problems = []
    if real["clients_differing"]:
        differing = real["clients_differing"]
        problems.append(f"{differing} clients' real events differ from the reference's")
    if real["reference_synthetic"]["missing"] or real["reference_synthetic"]["out_of_order"]:
        problems.append("the reference itself lost or reordered numbered events")
    if not result["database"]["matches"].get("settled"):
        problems.append("no match settled")
    if result["unfinished_at_end"]:
        problems.append(f"matches still in flight at the end: {result['unfinished_at_end']}")
    return problems


def print_result(result: dict, args) -> None:
    if args.json:
        print(json.dumps(result))
        return
    lat = result["latency_ms"]
    print(
        f"{result['clients']} clients, {args.events} events at {args.rate}/s, channel "
        f"capacity {result['capacity']}, expiry {result['expiry_s']} s (connected in "
        f"{result['connect_s']} s)"
    )
    print(
        f"received {result['received']} / {result['expected']}; missing "
        f"{result['missing']} (in gaps {result['missing_split']['in_gaps']}, at the end "
        f"{result['missing_split']['at_end']}; clients with loss: {result['clients_with_loss']}, "
        f"different sets lost: {result['loss_patterns']}); "
        f"out of order {result['out_of_order']}; duplicates {result['duplicates']}"
    )
    print(
        f"delivery latency p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms; "
        f"publisher late sends {result['publisher']['late']}; 'over capacity' log lines: "
        f"{result['over_capacity_log_lines'] + result['server_over_capacity_log_lines']}"
    )
    if args.matches:
        real, db = result["real"], result["database"]
        ref_syn = real["reference_synthetic"]
        lag = real["lag_behind_reference_ms"]
        print(
            f"real events: {real['reference_events']} in the reference "
            f"({real['reference_events_by_name']}); clients differing from it: "
            f"{real['clients_differing']} of {real['clients']} (missing events "
            f"{real['clients_missing_events']}, of which only at the end "
            f"{real['clients_missing_only_the_end']}, extra {real['clients_with_extra_events']}, "
            f"reordered {real['clients_reordered']}; distinct sequences among clients "
            f"{real['distinct_client_sequences']}; sockets that ended early "
            f"{result['clients_ended_early']})"
        )
        print(
            f"reference's numbered events: {ref_syn['received']} / {args.events}, out of order "
            f"{ref_syn['out_of_order']}; lag behind the reference p50 {lag['p50']} ms, "
            f"p99 {lag['p99']} ms, max {lag['max']} ms"
        )
        print(
            f"matches: {db['matches']} in the database (settled seen by the reference: "
            f"{real['matches_settled_seen']}); feeder {result['feeder']}"
        )
    cpu = ", ".join(f"{who} {seconds}" for who, seconds in result["cpu_s"].items())
    print(f"CPU seconds: {cpu}; load average at the end {result['load_average']}")
    print(f"verdict: {result['verdict']} (logs in {result['logs']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--rate", type=float, default=RATE, help="events per second")
    parser.add_argument("--capacity", type=int, default=0, help="set channels_redis capacity")
    parser.add_argument(
        "--drain",
        type=float,
        default=DRAIN_SECONDS,
        help="after the last publish, how long clients may take (--matches: may go on "
        "receiving nothing) before the run stops listening",
    )
    parser.add_argument("--expiry", type=int, default=0, help="set channels_redis expiry (s)")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--embedded-redis", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--matches", action="store_true", help="real matches run meanwhile")
    parser.add_argument("--players", type=int, default=PLAYERS, help="--matches: agents")
    parser.add_argument("--match-drain", type=float, default=MATCH_DRAIN_SECONDS)
    parser.add_argument("--pg-url", default=PG_URL, help="--matches: PostgreSQL server")
    parser.add_argument("--pg-db", default=PG_DB, help="--matches: database recreated")
    parser.add_argument("--sqlite", action="store_true", help="--matches: SQLite, not PostgreSQL")
    phases = ["run", "publish", "setup", "feed", "reference", "report"]
    parser.add_argument("--phase", choices=phases, default="run")
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--reference-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    group = f"space_{SLUG}"
    if args.phase == "publish":
        print(json.dumps(publish_phase(group=group, events=args.events, rate=args.rate)))
        return 0
    if args.phase == "setup":
        print(json.dumps(setup_phase(args.players)))
        return 0
    if args.phase == "feed":
        print(json.dumps(feed_phase(args.seconds)))
        return 0
    if args.phase == "report":
        print(json.dumps(report_phase()))
        return 0
    if args.phase == "reference":
        reference_phase(group, Path(args.reference_file))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
