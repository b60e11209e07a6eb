"""Measurement: does DPO on a space's kept pairs make an agent better, and with which settings?

On a server's database (``ARENA_VAR_DIR``, e.g. the demo after ``play``), for one agent of one
space: its kept pairs are its training data (as a training job would take them); each variant of
the settings (learning rate, beta, steps) trains a new adapter from the agent's live one with
``agents.training.train_dpo``; then each new adapter plays the promotion gate's games against
the live adapter on the space's held-out prompts (``learning.gate.play_games``: the same batched
generate and judge panel as the gate). Nothing is stored: no job, no version, no record; the
variants only measure. Reports per variant: training seconds, final loss and reward margin,
games won / lost / tied, the win rate and its 95% Wilson interval, and whether the gate would
pass it.

    ARENA_VAR_DIR=var/demo python bench/learning_gain.py --space arithmetic [--agent ID]
        [--variants "lr=5e-5,beta=0.1,epochs=4;lr=5e-4,epochs=8,steps=16"] [--games 16]
        [--seed 1] [--threads 1]

Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import django  # noqa: E402

django.setup()

import torch  # noqa: E402

from agents.inference.base import AdapterRef  # noqa: E402
from agents.models import Agent  # noqa: E402
from agents.training import TrainSettings, train_dpo  # noqa: E402
from learning.gate import gate_prompts, play_games, tally  # noqa: E402
from learning.selectors import new_pairs  # noqa: E402
from preferences.models import PreferencePair  # noqa: E402
from spaces.models import Space  # noqa: E402

DEFAULT_VARIANTS = "lr=5e-5,epochs=4;lr=5e-4,epochs=8;lr=2e-3,epochs=8;lr=2e-3,beta=0.5,epochs=8"


@dataclass
class Trained:
    """What play_games needs of a version: an id for its seeds and its adapter."""

    pk: int
    path: str
    sha256: str

    def ref(self) -> AdapterRef:
        return AdapterRef(path=self.path, sha256=self.sha256)


def parse_variants(text: str) -> list[dict]:
    variants = []
    for chunk in filter(None, (c.strip() for c in text.split(";"))):
        values = dict(part.split("=", 1) for part in chunk.split(","))
        variants.append(
            {
                "learning_rate": float(values.get("lr", "5e-5")),
                "beta": float(values.get("beta", "0.1")),
                "epochs": int(values.get("epochs", "1")),
                "max_steps": int(values["steps"]) if "steps" in values else None,
            }
        )
    return variants


def busiest_agent(space: Space) -> Agent:
    """The agent that answered in most of the space's kept pairs."""
    counts = Counter()
    kept = PreferencePair.objects.filter(space=space, status="kept")
    for chosen, rejected in kept.values_list("chosen_agent_id", "rejected_agent_id"):
        counts.update([chosen, rejected])
    if not counts:
        raise SystemExit(f"space {space.slug} has no kept pairs yet: play some matches first")
    return Agent.objects.get(pk=min(counts, key=lambda pk: (-counts[pk], pk)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", required=True)
    parser.add_argument("--agent", type=int)
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--games", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    space = Space.objects.get(slug=args.space)
    agent = Agent.objects.get(pk=args.agent) if args.agent else busiest_agent(space)
    pairs = [
        {
            "prompt": p.prompt_text,
            "chosen": p.chosen_text,
            "rejected": p.rejected_text,
            "system": agent.system_prompt,
        }
        for p in new_pairs(agent=agent, space=space)
    ]
    prompts = gate_prompts(space, args.games)
    if not pairs or not prompts:
        raise SystemExit("need kept pairs and held-out prompts")
    live = agent.current_adapter
    rows = []
    for n, variant in enumerate(parse_variants(args.variants)):
        settings = TrainSettings.from_agent(
            agent, seed=args.seed, max_length=256, checkpoint_every=0, **variant
        )
        with tempfile.TemporaryDirectory(prefix="arena-gain-") as work:
            started = time.perf_counter()
            result = train_dpo(
                base_model_path=agent.base_model.path,
                parent_adapter_dir=live.directory if live else None,
                pairs=pairs,
                settings=settings,
                out_dir=Path(work) / "run",
            )
            seconds = time.perf_counter() - started
            candidate = Trained(10_000 + n, str(result.adapter_dir), result.adapter_sha256)
            games = play_games(
                agent=agent,
                space=space,
                candidate=candidate,
                baseline=live,
                prompts=prompts,
            )
        score = tally(games)
        rows.append(
            {
                **variant,
                "steps": result.steps,
                "train_seconds": round(seconds, 1),
                "final_loss": result.final_metrics.get("loss"),
                "final_margin": result.final_metrics.get("rewards/margins"),
                "wins": score.wins,
                "losses": score.losses,
                "ties": score.ties,
                "win_rate": score.rate,
                "interval": [round(score.low, 3), round(score.high, 3)],
                "gate_passes": score.passes,
            }
        )
    summary = {
        "space": space.slug,
        "agent": {"id": agent.pk, "name": agent.name},
        "pairs": len(pairs),
        "heldout_prompts": len({p.pk for p in prompts}),
        "games": len(prompts),
        "quantization": result.quantization,
        "variants": rows,
    }
    print(json.dumps(summary))
    print(f"\n{agent.name} in {space.slug}: {len(pairs)} pairs, {len(prompts)} games per variant")
    print(f"{'lr':>8} {'beta':>5} {'steps':>5} {'s':>6} {'W/L/T':>9} {'rate':>5}  interval")
    for r in rows:
        print(
            f"{r['learning_rate']:>8g} {r['beta']:>5g} {r['steps']:>5} {r['train_seconds']:>6} "
            f"{r['wins']:>3}/{r['losses']}/{r['ties']:<3} {r['win_rate']:>5.2f}  "
            f"[{r['interval'][0]:.2f}, {r['interval'][1]:.2f}]"
            + ("  passes" if r["gate_passes"] else "")
        )


if __name__ == "__main__":
    main()
