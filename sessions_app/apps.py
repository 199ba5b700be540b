from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = _("Digital human sessions")

    def ready(self):
        # The live chat's modules need the models loaded: imported here, not at the top.
        from .live import drive_rights, inbox, ownership

        drive_rights.connect_signals()
        inbox.register(drive_rights.MESSAGE_TYPE, drive_rights.on_changed)
        inbox.register(ownership.TAB_MESSAGE, ownership.remote_tabs.on_tab)
        inbox.register(ownership.COMMAND_MESSAGE, ownership.remote_tabs.on_command)
