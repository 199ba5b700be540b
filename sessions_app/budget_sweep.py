"""Live sessions at a daily cap: warned a minute ahead, then closed. Run by the idle sweep.

A session's budgets are its account's and its creator's for the day it was created. When the
sessions still running would exhaust the tightest of them within a minute (plus one sweep
period, so the warning always comes at least a minute early), its viewers get a note; at the cap
it is closed with the cap as the reason. A close happens at the first sweep at or after the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import budgets, services
from .models import AuditEntry, LiveSession, SessionEvent
from .usage import day_start

CAP_WARNING_SECONDS = 60


@dataclass
class CapSweepResult:
    warned: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)


def _tightest(session: LiveSession, now: datetime, seen: dict) -> budgets.Budget | None:
    day = day_start(session.created_at)
    key = (session.account_id, session.created_by_id, day)
    if key not in seen:
        found = budgets.budgets_of(account=session.account, user=session.created_by, day=day, now=now)
        seen[key] = min(found, key=lambda budget: budget.seconds_to_cap, default=None)
    return seen[key]


def session_warn_cap(*, session: LiveSession, budget: budgets.Budget, now: datetime) -> bool:
    """Tell the session's viewers a cap closes it soon; once per session."""
    left = max(int(budget.seconds_to_cap), 0)
    with transaction.atomic():
        changed = (LiveSession.objects.filter(pk=session.pk, status__in=LiveSession.LIVE_STATUSES,
                                              cap_warned_at__isnull=True).update(cap_warned_at=now))
        if changed:
            services.event_record(
                session=session, kind=SessionEvent.Kind.NOTE,
                message=f"daily cap: closing in {left} s, {budget.words().english}",
                data={"cap_warning": True, "closes_in_seconds": left, "cap": budget.kind},
            )
    return bool(changed)


def session_close_at_cap(*, session: LiveSession, budget: budgets.Budget) -> bool:
    """Close a warned live session whose cap is reached. True if this call closed it."""
    reason = f"daily cap reached: {budget.words().english}"
    condition = Q(status=session.status, is_orphan=False, cap_warned_at__isnull=False)
    return services.session_close_unattended(session=session, reason=reason, action=AuditEntry.Action.CLOSE_CAP,
                                             condition=condition)


def sessions_cap_sweep(*, now: datetime | None = None) -> CapSweepResult:
    now = now or timezone.now()
    ahead = CAP_WARNING_SECONDS + settings.TCADH_SWEEP_IDLE_SECONDS
    result = CapSweepResult()
    seen: dict = {}
    for session in budgets.capped_live_sessions():
        budget = _tightest(session, now, seen)
        if budget is None:
            continue
        if budget.seconds_to_cap <= ahead and session.cap_warned_at is None:
            if session_warn_cap(session=session, budget=budget, now=now):
                result.warned.append(session.pk)
                session.cap_warned_at = now
        if budget.reached and session.cap_warned_at is not None:
            if session_close_at_cap(session=session, budget=budget):
                result.closed.append(session.pk)
    return result
