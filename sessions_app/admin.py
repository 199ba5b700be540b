from django import forms
from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _, pgettext

from .admin_words import ConsoleWordsAdmin
from .models import Account, Asset, AuditEntry, LiveSession, OperatorBudget, Project, SessionEvent, Utterance


class AccountAdminForm(forms.ModelForm):
    # Write-only: the stored accesstoken is never rendered back, only set or replaced.
    base_url = forms.URLField(label=_("Base URL"), assume_scheme="https", initial="https://gw.tvs.qq.com")
    new_accesstoken = forms.CharField(
        label=_("Accesstoken (set / replace)"), required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the stored accesstoken."),
    )

    class Meta:
        model = Account
        fields = ["name", "uin", "base_url", "appkey", "concurrency_limit", "daily_minutes_cap",
                  "orphan_autoclose_minutes"]

    def clean(self):
        data = super().clean()
        if not self.instance.accesstoken_encrypted and not data.get("new_accesstoken"):
            self.add_error("new_accesstoken", _("A new account needs its accesstoken."))
        return data

    def save(self, commit=True):
        account = super().save(commit=False)
        if self.cleaned_data.get("new_accesstoken"):
            account.set_accesstoken(self.cleaned_data["new_accesstoken"])
        if commit:
            account.save()
        return account


class ProjectInline(admin.TabularInline):
    model = Project
    extra = 0


class AssetInline(admin.TabularInline):
    model = Asset
    extra = 0


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountAdminForm
    # The admin builds its forms from the model's fields again (the list's editable columns too):
    # a gateway typed without a scheme is an HTTPS one there as well.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "uin", "base_url", "appkey", "concurrency_limit", "daily_minutes_cap", "accesstoken_state"]
    list_editable = ["concurrency_limit", "daily_minutes_cap"]
    search_fields = ["name", "uin", "appkey"]
    inlines = [ProjectInline, AssetInline]

    @admin.display(description=_("Accesstoken"))
    def accesstoken_state(self, obj: Account) -> str:
        return pgettext("accesstoken", "set") if obj.accesstoken_encrypted else pgettext("accesstoken", "missing")


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "project_id", "account", "has_bot", "idle_limit_seconds"]
    list_filter = ["account", "has_bot"]
    search_fields = ["name", "project_id"]


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["name", "asset_key", "account", "idle_limit_seconds"]
    list_filter = ["account"]
    search_fields = ["name", "asset_key"]


@admin.register(OperatorBudget)
class OperatorBudgetAdmin(admin.ModelAdmin):
    list_display = ["user", "daily_minutes_cap"]
    list_editable = ["daily_minutes_cap"]
    search_fields = ["user__username"]


class ReadOnlyAdmin(ConsoleWordsAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LiveSession)
class LiveSessionAdmin(ReadOnlyAdmin):
    list_display = ["cloud_session_id", "status", "account", "project", "asset", "protocol", "created_by",
                    "created_at", "closed_at", "close_reason"]
    list_filter = ["status", "protocol", "driver_type", "account", "is_orphan"]
    search_fields = ["cloud_session_id", "user_id", "created_by__username"]
    date_hierarchy = "created_at"
    exclude = ["play_stream_addr"]
    console_words = ("close_reason", "error_message")


@admin.register(Utterance)
class UtteranceAdmin(ReadOnlyAdmin):
    list_display = ["session", "kind", "state", "text", "created_by", "created_at"]
    list_filter = ["kind", "state"]
    search_fields = ["text", "req_id", "session__cloud_session_id"]
    console_words = ("error",)


@admin.register(SessionEvent)
class SessionEventAdmin(ReadOnlyAdmin):
    list_display = ["session", "kind", "message", "created_at"]
    list_filter = ["kind"]
    search_fields = ["message", "session__cloud_session_id"]
    console_words = ("message",)

    def console_words_apply(self, obj: SessionEvent) -> bool:
        return obj.message_is_console_words


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "ok", "account", "project", "asset", "session", "detail"]
    list_filter = ["action", "ok", "account"]
    search_fields = ["detail", "actor__username", "session__cloud_session_id"]
    date_hierarchy = "created_at"
    console_words = ("detail",)

    def console_words_apply(self, obj: AuditEntry) -> bool:
        return obj.detail_is_console_words
