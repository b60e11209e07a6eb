from django.conf import settings

from arena.celery import app


def _queue_of(task_name: str) -> str:
    route = app.amqp.router.route({}, task_name)
    return route["queue"].name


def test_it_routes_each_kind_of_task_to_its_queue():
    assert _queue_of("arena.rollout_match") == "rollout"
    assert _queue_of("arena.judge_match") == "judge"
    assert _queue_of("agents.train_agent") == "train"
    assert _queue_of("arena.settle_match") == "default"
    assert _queue_of("ledger.scan_deposits") == "default"


def test_it_declares_the_four_queues_and_time_limits():
    assert {q.name for q in app.conf.task_queues} == {"default", "rollout", "judge", "train"}
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
    # Late acks are opt-in per idempotent task, never a global default.
    assert app.conf.task_acks_late is False
    assert app.conf.broker_url == settings.CELERY_BROKER_URL


def test_it_never_runs_tasks_eagerly_unless_asked():
    assert app.conf.task_always_eager is False


def test_only_idempotent_tasks_acknowledge_late():
    """A late-acked task runs again when its worker dies; only tasks that do their work once
    whatever the number of runs (claimed steps, unique keys, signed-once transactions) opt in."""
    app.loader.import_default_modules()
    late = {
        "arena.rollout_match",
        "arena.judge_match",
        "arena.settle_match",
        "ledger.scan_deposits",
        "ledger.send_withdrawal",
    }
    for name in late:
        task = app.tasks[name]
        assert task.acks_late is True, name
    for name in ("arena.rollout_match", "arena.judge_match", "arena.settle_match"):
        assert app.tasks[name].reject_on_worker_lost is True, name
    for name in ("arena.broadcast", "arena.reap_stuck_matches", "arena.matchmake"):
        assert app.tasks[name].acks_late is False, name
