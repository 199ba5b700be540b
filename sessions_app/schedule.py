"""The sweeps' beat schedule follows the settings.

Migration 0002 seeded the periodic tasks; their intervals are TCADH_SWEEP_* and are written into
the schedule each time beat starts, so one environment variable changes a cluster's sweep
period. An admin can still pause a sweep in the admin; that choice is left alone.
"""

from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask


def sweep_periods() -> dict[str, int]:
    return {
        "sessions_app.tasks.poll_preparing_sessions": settings.TCADH_SWEEP_PREPARING_SECONDS,
        "sessions_app.tasks.sweep_idle_sessions": settings.TCADH_SWEEP_IDLE_SECONDS,
        "sessions_app.tasks.reconcile_accounts": settings.TCADH_SWEEP_RECONCILE_SECONDS,
    }


def sweep_schedule_sync() -> int:
    """Give every sweep its configured period; returns how many periodic tasks changed."""
    changed = 0
    for task_name, seconds in sweep_periods().items():
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        for periodic in PeriodicTask.objects.filter(task=task_name):
            if periodic.interval_id != interval.pk or periodic.expire_seconds != seconds:
                # A sweep still queued when the next one is due is worthless: expire it then.
                periodic.interval, periodic.expire_seconds = interval, seconds
                periodic.save()  # also tells a running beat to reload its schedule
                changed += 1
    return changed
