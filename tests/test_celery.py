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


def test_only_idempotent_tasks_acknowledge_late():
    """A late-acked task runs again when its worker dies; only tasks that do their work once
    whatever the number of runs (claimed steps, unique keys, signed-once transactions) opt in."""
    app.loader.import_default_modules()
    late = {
        "arena.rollout_match",
        "arena.judge_match",
        "arena.settle_match",
        "arena.refit_standings",
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
