"""The rows that decide a destructive action's targets: one write per item, a lease on a plan left acting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.store import guards
from bot.store.models import AuditLog

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_a_kept_instance_cannot_be_claimed_for_a_stop_nor_a_stopping_one_kept(factory: sessionmaker[Session]) -> None:
    plan = guards.ensure_plan(factory, "shutdown", "ml/2026-11-25", "scheduler", NOW)

    assert guards.move_item(factory, plan.id, "i-1", "kept", "UALICE", NOW, why="eval run")
    assert not guards.move_item(factory, plan.id, "i-1", "stopping", "scheduler", NOW)
    assert guards.move_item(factory, plan.id, "i-2", "stopping", "scheduler", NOW)
    assert not guards.move_item(factory, plan.id, "i-2", "kept", "UALICE", NOW)
    assert not guards.move_item(factory, plan.id, "i-2", "stopping", "replica-2", NOW)
    assert {i.item: (i.state, i.why) for i in guards.items(factory, plan.id)} == {
        "i-1": ("kept", "eval run"), "i-2": ("stopping", "")}


def test_planned_items_move_once_and_each_result_leaves_an_audit_row(factory: sessionmaker[Session]) -> None:
    plan = guards.ensure_plan(factory, "snapshots", "abc", "UBOSS", NOW)
    guards.add_items(factory, plan.id, {"snap-1": {"gib": 8}, "snap-2": {"gib": 16}}, "UBOSS", NOW)

    assert guards.move_item(factory, plan.id, "snap-1", "deleting", "UBOSS", NOW)
    assert not guards.move_item(factory, plan.id, "snap-1", "deleting", "UBOSS", NOW)
    guards.finish_item(factory, plan.id, "snap-1", None, "UBOSS", NOW, "spend.delete_snapshot", plan="abc")
    guards.finish_item(factory, plan.id, "snap-2", "InvalidSnapshot.InUse", "UBOSS", NOW, "spend.delete_snapshot")

    assert [(i.item, i.state, i.error) for i in guards.items(factory, plan.id)] == [
        ("snap-1", "done", None), ("snap-2", "failed", "InvalidSnapshot.InUse")]
    with factory() as session:
        rows = session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        assert [(r.action, r.target) for r in rows] == [
            ("spend.delete_snapshot", "snap-1"), ("spend.delete_snapshot_failed", "snap-2")]


def test_one_caller_starts_a_plan_and_a_plan_left_acting_is_taken_over_after_the_lease(
        factory: sessionmaker[Session]) -> None:
    plan = guards.ensure_plan(factory, "shutdown", "ml/2026-11-25", "scheduler", NOW)
    lease = timedelta(minutes=5)

    assert guards.start(factory, plan.id, "replica-1", NOW, lease)
    assert not guards.start(factory, plan.id, "replica-2", NOW + timedelta(minutes=4), lease)
    assert guards.start(factory, plan.id, "replica-2", NOW + timedelta(minutes=6), lease)
    guards.finish(factory, plan.id, NOW + timedelta(minutes=7), stopped=3)
    assert not guards.start(factory, plan.id, "replica-3", NOW + timedelta(hours=1), lease)
    done = guards.plan(factory, "shutdown", "ml/2026-11-25")
    assert done is not None and done.state == "done" and done.detail == {"stopped": 3}


def test_postponing_moves_a_planned_night_only(factory: sessionmaker[Session]) -> None:
    plan = guards.ensure_plan(factory, "shutdown", "ml/2026-11-25", "scheduler", NOW, acts_at=NOW)

    assert guards.postpone(factory, plan, NOW + timedelta(hours=2), "UALICE", NOW)
    moved = guards.plan(factory, "shutdown", "ml/2026-11-25")
    assert moved is not None and moved.acts_at == NOW + timedelta(hours=2)
    guards.start(factory, plan.id, "scheduler", NOW, timedelta(minutes=5))
    assert not guards.postpone(factory, plan, NOW + timedelta(hours=4), "UALICE", NOW)
