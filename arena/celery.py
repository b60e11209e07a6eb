"""The Celery app (Celery's Django example layout).

Queues: ``default`` (settlement, bookkeeping), ``rollout`` (generation, GPU machines), ``judge``
(judge panels), ``train`` (DPO training, GPU machines). Tasks are routed by their module's queue
declaration below; a worker per queue is started with ``celery -A arena worker -Q <queue>``.
"""

import os

from celery import Celery, signals
from kombu import Queue

from arena.embedded import start_if_embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

app = Celery("arena")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "rollout", "judge", "train")]
app.conf.task_routes = {
    "*.rollout_*": {"queue": "rollout"},
    "*.judge_*": {"queue": "judge"},
    "*.train_*": {"queue": "train"},
}
app.autodiscover_tasks()

# Periodic work, run by exactly one `celery beat` (in the embedded mode: `worker --beat`).
app.conf.beat_schedule = {
    "ledger-scan-deposits": {"task": "ledger.scan_deposits", "schedule": 60.0},
    "ledger-sweep-siwe-nonces": {"task": "ledger.sweep_siwe_nonces", "schedule": 60.0},
    "arena-reap-stuck-matches": {"task": "arena.reap_stuck_matches", "schedule": 60.0},
    "arena-matchmake": {"task": "arena.matchmake", "schedule": 30.0},
    "arena-auto-enter": {"task": "arena.auto_enter_agents", "schedule": 60.0},
    "arena-refit-standings": {"task": "arena.refit_standings", "schedule": 600.0},
    "arena-rollout-audit": {"task": "arena.rollout_audit", "schedule": 300.0},
    "ledger-anchor-record-chains": {"task": "ledger.anchor_record_chains", "schedule": 600.0},
    "agents-reap-training-jobs": {"task": "agents.reap_training_jobs", "schedule": 300.0},
    "learning-schedule-training": {"task": "learning.schedule_training", "schedule": 300.0},
    "spaces-apply-economics-changes": {"task": "spaces.apply_economics_changes", "schedule": 60.0},
    "preferences-follow-judge-reports": {
        "task": "preferences.follow_judge_reports",
        "schedule": 600.0,
    },
}


@signals.worker_init.connect
@signals.beat_init.connect
def _start_embedded_redis(**_) -> None:
    # A worker or beat started by hand in the embedded mode brings the shared Redis up itself.
    start_if_embedded()
