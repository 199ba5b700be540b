"""Seed the beat schedule of the kiosk sweep; admins may change or pause it in the admin afterwards."""

from django.db import migrations
from django.utils import timezone

NAME = "Close sessions of vanished kiosk pages"
TASK = "presentations.tasks.sweep_kiosk_runs"
EVERY_SECONDS = 15


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    interval, _ = IntervalSchedule.objects.get_or_create(every=EVERY_SECONDS, period="seconds")
    # expire = the period: a sweep still queued when the next is due is worth nothing.
    PeriodicTask.objects.get_or_create(name=NAME, defaults={
        "task": TASK, "interval": interval, "expire_seconds": EVERY_SECONDS, "enabled": True,
    })
    # Beat reloads its schedule when this marker changes; the historical model has no signal for it.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("presentations", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
