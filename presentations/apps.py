from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PresentationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "presentations"
    verbose_name = _("Presentations")
