from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Digital human sessions"

    def ready(self):
        from . import drive_rights

        drive_rights.connect_signals()
