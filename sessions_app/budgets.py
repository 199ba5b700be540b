"""Daily caps of session-minutes, per account and per operator, and what each has used.

A session spends the budgets of its account and its creator on the day it was created (the
same day its minutes count on in the Usage page), from creation until the cloud confirmed it
closed. Caps are enforced on the server: `services.session_create` refuses a create once a cap
is reached, and the idle sweep warns and then closes live sessions at it (`budget_sweep`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from .live.words import Words
from .models import Account, LiveSession, OperatorBudget
from .usage import day_start, seconds_of, session_duration


@dataclass(frozen=True)
class Budget:
    """One cap on one day, and what its sessions used of it by `at`."""

    kind: str  # "account" or "operator"
    name: str
    cap_minutes: int
    day: datetime
    used_seconds: float
    # Sessions of this budget that may still be billed: each spends a second a second.
    draining: int

    @property
    def used_minutes(self) -> float:
        return self.used_seconds / 60

    @property
    def used_minutes_text(self) -> str:
        return f"{self.used_minutes:.2f}"

    @property
    def left_seconds(self) -> float:
        return self.cap_minutes * 60 - self.used_seconds

    @property
    def reached(self) -> bool:
        return self.left_seconds <= 0

    @property
    def seconds_to_cap(self) -> float:
        """How long until the sessions still running exhaust it."""
        return self.left_seconds / max(self.draining, 1)

    def words(self) -> Words:
        """What it used, as a close reason, a warning or a refusal says it: `str()` in the active
        language, `english` for what is stored or told every viewer."""
        values = {"name": self.name, "used": f"{self.used_minutes:.1f}", "cap": self.cap_minutes}
        if self.kind == "account":
            return Words(gettext_noop("account %(name)s has used %(used)s of its %(cap)s session-minutes for the day"),
                         **values)
        return Words(gettext_noop("operator %(name)s has used %(used)s of their %(cap)s session-minutes for the day"),
                     **values)


def _budget(kind: str, name: str, cap: int, rows, day: datetime, now: datetime) -> Budget:
    used = (rows.filter(created_at__gte=day, created_at__lt=day + timedelta(days=1))
            .aggregate(duration=Sum(session_duration(now)), draining=Count("pk", filter=Q(cloud_closed_at__isnull=True))))
    return Budget(kind=kind, name=name, cap_minutes=cap, day=day, used_seconds=seconds_of(used["duration"]),
                  draining=used["draining"])


def account_budget(*, account: Account, day: datetime, now: datetime) -> Budget | None:
    if account.daily_minutes_cap is None:
        return None
    return _budget("account", account.name, account.daily_minutes_cap,
                   LiveSession.objects.filter(account=account), day, now)


def operator_budget(*, user, day: datetime, now: datetime) -> Budget | None:
    if user is None or not user.is_authenticated:
        return None
    cap = OperatorBudget.objects.filter(user=user).values_list("daily_minutes_cap", flat=True).first()
    if cap is None:
        return None
    return _budget("operator", user.get_username(), cap, LiveSession.objects.filter(created_by=user), day, now)


def budgets_of(*, account: Account, user, day: datetime, now: datetime) -> list[Budget]:
    found = (account_budget(account=account, day=day, now=now), operator_budget(user=user, day=day, now=now))
    return [budget for budget in found if budget is not None]


def budget_spent(*, account: Account, user, now: datetime | None = None) -> Words | None:
    """Why a new session of `user` on `account` would go past a cap today, or None if it would not:
    the refusal told to its requester and, in English, the failed create's audit entry."""
    now = now or timezone.now()
    for budget in budgets_of(account=account, user=user, day=day_start(now), now=now):
        if budget.reached:
            return Words(gettext_noop("%(words)s, all of the daily cap; new sessions are refused until tomorrow "
                                      "unless an admin raises the cap"), words=budget.words())
    return None


def budgets_today(*, now: datetime | None = None) -> list[Budget]:
    """Every cap there is, with what it used today: what the Usage page shows."""
    now = now or timezone.now()
    day = day_start(now)
    found = [account_budget(account=account, day=day, now=now)
             for account in Account.objects.filter(daily_minutes_cap__isnull=False)]
    for budget in OperatorBudget.objects.select_related("user"):
        found.append(operator_budget(user=budget.user, day=day, now=now))
    return found


def capped_live_sessions():
    """Live sessions under at least one cap (orphans have no creator and are closed otherwise)."""
    return (LiveSession.objects.filter(status__in=LiveSession.LIVE_STATUSES, is_orphan=False)
            .filter(Q(account__daily_minutes_cap__isnull=False) | Q(created_by__budget__isnull=False))
            .select_related("account", "created_by"))
