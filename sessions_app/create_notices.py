"""What the new-session form tells an operator before the click: accounts with no free
concurrency, and caps their new session would go past."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext

from . import budgets, usage


@dataclass(frozen=True)
class Notice:
    account_id: int
    text: str


def create_notices(*, user) -> list[Notice]:
    notices = []
    for held in usage.concurrency_now():
        if held.free == 0:
            values = {"name": held.account.name, "limit": held.limit, "waiting": held.unconfirmed}
            notices.append(Notice(held.account.pk, (gettext(
                "Account %(name)s: all %(limit)s purchased concurrent sessions are in use, %(waiting)s of them not "
                "yet confirmed closed by the cloud. The cloud will refuse a new session until one closes; close one "
                "on the Dashboard.") if held.unconfirmed else gettext(
                "Account %(name)s: all %(limit)s purchased concurrent sessions are in use. The cloud will refuse a "
                "new session until one closes; close one on the Dashboard.")) % values))
        spent = budgets.budget_spent(account=held.account, user=user)
        if spent is not None:
            notices.append(Notice(held.account.pk, gettext("Account %(name)s: %(spent)s.")
                                  % {"name": held.account.name, "spent": spent}))
    return notices
