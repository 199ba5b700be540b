from django.contrib import admin

from sessions_app.admin_words import ConsoleWordsAdmin

from .models import Cue, DemoScript, KioskConfig, KioskRun


class CueInline(admin.TabularInline):
    model = Cue
    extra = 0
    fields = ["position", "kind", "text", "pause_seconds", "note"]


@admin.register(DemoScript)
class DemoScriptAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "asset", "created_by", "updated_at"]
    search_fields = ["name"]
    inlines = [CueInline]


@admin.register(KioskConfig)
class KioskConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "project", "asset", "script", "window_start", "window_end", "enabled"]
    list_filter = ["enabled"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(KioskRun)
class KioskRunAdmin(ConsoleWordsAdmin):
    list_display = ["kiosk", "session", "heartbeat_at", "ended_at", "end_reason"]
    list_filter = ["kiosk"]
    readonly_fields = ["kiosk", "session", "page_id", "heartbeat_at", "ended_at", "end_reason", "created_at"]
    console_words = ("end_reason",)

    def has_add_permission(self, request):
        return False
