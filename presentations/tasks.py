"""Celery tasks of the presentations app (scheduled by django-celery-beat; see migration 0002)."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, soft_time_limit=20, time_limit=30)
def sweep_kiosk_runs() -> list[int]:
    return services.kiosk_runs_sweep()
