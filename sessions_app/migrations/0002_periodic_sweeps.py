"""Seed the beat schedule of the sweeps. Admins can change or pause them in the admin afterwards;
re-running leaves their edits alone."""

from django.db import migrations
from django.utils import timezone

# (name, task, every N seconds). expire_seconds = the period: a sweep still queued when the next
# one is due is worthless, so a worker catching up after downtime skips the backlog.
SWEEPS = [
    ("Poll preparing sessions", "sessions_app.tasks.poll_preparing_sessions", 5),
    ("Close idle sessions", "sessions_app.tasks.sweep_idle_sessions", 30),
    ("Reconcile accounts with the cloud", "sessions_app.tasks.reconcile_accounts", 60),
]


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, seconds in SWEEPS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(name=name, defaults={
            "task": task, "interval": interval, "expire_seconds": seconds, "enabled": True,
        })
    # Beat reloads its schedule when this marker changes; the historical model has no signal for it.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in SWEEPS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
