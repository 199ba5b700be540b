"""Record when the cloud confirmed each session closed.

Rows that ended before this migration are taken as confirmed at their close time: reconciliation
re-opens any of them the cloud still lists, so an old row that was in fact left running is
closed on the first sweep without every historical row costing a closesession call.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def confirm_ended(apps, schema_editor):
    LiveSession = apps.get_model("sessions_app", "LiveSession")
    LiveSession.objects.filter(status__in=["closed", "failed"], closed_at__isnull=False).update(
        cloud_closed_at=F("closed_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('sessions_app', '0003_utterance_session_req_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='livesession',
            name='close_attempts',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='livesession',
            name='cloud_closed_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='Confirmed closed in the cloud'),
        ),
        migrations.AddField(
            model_name='livesession',
            name='next_close_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='livesession',
            name='unlisted_count',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name='livesession',
            index=models.Index(condition=models.Q(('cloud_closed_at__isnull', True)), fields=['account', 'status'], name='session_unconfirmed'),
        ),
        migrations.RunPython(confirm_ended, migrations.RunPython.noop),
    ]
