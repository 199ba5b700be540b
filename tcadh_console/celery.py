import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tcadh_console.settings")

app = Celery("tcadh_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def _sync_sweep_schedule(**_) -> None:
    # Imported here: the app registry is ready only once beat has started.
    from sessions_app.schedule import sweep_schedule_sync

    sweep_schedule_sync()
