"""The two groups the console's roles are made of, so an admin only has to assign people."""

from django.db import migrations

ROLE_GROUPS = ("operator", "auditor")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0004_cloud_close_confirmation"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
