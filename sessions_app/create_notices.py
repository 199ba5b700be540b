"""What the new-session form tells an operator before the click: accounts with no free
concurrency, and caps their new session would go past."""

from __future__ import annotations

from dataclasses import dataclass

from . import budgets, usage


@dataclass(frozen=True)
class Notice:
    account_id: int
    text: str


def create_notices(*, user) -> list[Notice]:
    notices = []
    for held in usage.concurrency_now():
        if held.free == 0:
            waiting = f", {held.unconfirmed} of them not yet confirmed closed by the cloud" if held.unconfirmed else ""
            notices.append(Notice(held.account.pk, (
                f"Account {held.account.name}: all {held.limit} purchased concurrent sessions are in use"
                f"{waiting}. The cloud will refuse a new session until one closes; close one on the Dashboard.")))
        spent = budgets.budget_spent(account=held.account, user=user)
        if spent is not None:
            notices.append(Notice(held.account.pk, f"Account {held.account.name}: {spent}."))
    return notices
