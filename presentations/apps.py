from django.apps import AppConfig


class PresentationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "presentations"
    verbose_name = "Presentations"
