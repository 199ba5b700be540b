from django.conf import settings
from django.db import models
from django.db.models.lookups import GreaterThan, IsNull
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy as _, ngettext, pgettext_lazy

from . import crypto
from .db_time import SecondsBetween
from .labels import STATUS_LABELS, UTTERANCE_STATE_LABELS, status_label

GW_MAINLAND = "https://gw.tvs.qq.com"


class Account(models.Model):
    """One set of cloud credentials. The accesstoken is stored encrypted and never shown back."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    uin = models.CharField(_("UIN"), max_length=32, blank=True)
    base_url = models.URLField(_("Base URL"), default=GW_MAINLAND)
    appkey = models.CharField(_("appkey"), max_length=64, unique=True)
    accesstoken_encrypted = models.TextField(editable=False)
    concurrency_limit = models.PositiveIntegerField(
        _("concurrency limit"), null=True, blank=True, help_text=_("Purchased concurrent sessions, when known.")
    )
    orphan_autoclose_minutes = models.PositiveIntegerField(
        _("close orphans after (minutes)"), null=True, blank=True, default=10,
        help_text=_("Close sessions unknown to the console after this long; empty = never."),
    )
    daily_minutes_cap = models.PositiveIntegerField(
        _("Daily cap (session-minutes)"), null=True, blank=True,
        help_text=_("Session-minutes the account may use per day; a create past it is refused and live "
                    "sessions are closed at it. Empty = no cap."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return self.name

    @property
    def accesstoken(self) -> str:
        return crypto.decrypt(self.accesstoken_encrypted)

    def set_accesstoken(self, value: str) -> None:
        self.accesstoken_encrypted = crypto.encrypt(value)


class Project(models.Model):
    """A platform project (VirtualmanProjectId)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="projects", verbose_name=_("account"))
    project_id = models.CharField("VirtualmanProjectId", max_length=64)
    name = models.CharField(_("name"), max_length=100)
    has_bot = models.BooleanField(_("has a bot"), default=False, help_text=_("Bound to a dialogue bot or LLM."))
    idle_limit_seconds = models.PositiveIntegerField(_("idle limit (seconds)"), default=300)

    class Meta:
        ordering = ["name"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [models.UniqueConstraint(fields=["account", "project_id"], name="unique_project_per_account")]

    def __str__(self) -> str:
        return self.name


class Asset(models.Model):
    """An avatar asset (AssetVirtualmanKey)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="assets", verbose_name=_("account"))
    asset_key = models.CharField("AssetVirtualmanKey", max_length=64)
    name = models.CharField(_("name"), max_length=100)
    idle_limit_seconds = models.PositiveIntegerField(_("idle limit (seconds)"), default=300)
    action_codes = models.CharField(
        _("action codes"), max_length=500, blank=True,
        help_text=_("Gesture codes for <insert-action>, comma separated."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("asset")
        verbose_name_plural = _("assets")
        constraints = [models.UniqueConstraint(fields=["account", "asset_key"], name="unique_asset_per_account")]

    def __str__(self) -> str:
        return self.name


def _seconds(ms: int) -> str:
    return gettext("%(ms)s ms") % {"ms": ms} if ms < 1000 else gettext("%(s)s s") % {"s": f"{ms / 1000:.1f}"}


# How long a session was open here, in seconds (NULL while it is open). Indexed: the audit
# concurrency chart finds the sessions open at the start of its window among those created at most
# LONG_SESSION_SECONDS before it, plus the few long or still open ones, which the index hands over
# (and its statistics tell the planner how few they are).
SESSION_LIFETIME = SecondsBetween("created_at", "closed_at")
LONG_SESSION_SECONDS = 86400
LONG_SESSION = models.Q(IsNull(SESSION_LIFETIME, True)) | models.Q(GreaterThan(SESSION_LIFETIME, LONG_SESSION_SECONDS))
# A rolled-up session whose close here is not its confirmed close in the cloud: its lifetime on the
# audit pages differs from the billed seconds UsageDay holds for it (see audit.sessions_totals).
ROLLED_UP_CLOSE_GAP = models.Q(rolled_up=True) & (
    models.Q(closed_at__isnull=True) | models.Q(closed_at__lt=models.F("cloud_closed_at"))
    | models.Q(closed_at__gt=models.F("cloud_closed_at")))


class LiveSession(models.Model):
    class Status(models.TextChoices):
        PREPARING = "preparing", STATUS_LABELS["preparing"]
        READY = "ready", STATUS_LABELS["ready"]
        STARTED = "started", STATUS_LABELS["started"]
        CLOSING = "closing", STATUS_LABELS["closing"]
        CLOSED = "closed", STATUS_LABELS["closed"]
        FAILED = "failed", STATUS_LABELS["failed"]

    LIVE_STATUSES = (Status.PREPARING, Status.READY, Status.STARTED)
    # The console has decided these are over; the cloud may not have caught up yet.
    ENDED_STATUSES = (Status.CLOSING, Status.CLOSED, Status.FAILED)

    def drive_refusal(self) -> str:
        """Why the avatar cannot be driven now ("" when it can): the one rule of the chat and the
        services, as the status of this object has it."""
        if self.status == self.Status.STARTED:
            return ""
        words = {"status": status_label(self.status)}
        if self.status == self.Status.READY:
            return gettext("the session is %(status)s; start it first") % words
        return gettext("the session is %(status)s") % words

    class Protocol(models.TextChoices):
        RTMP = "rtmp", _("RTMP (HTTP-FLV in the page)")
        WEBRTC = "webrtc", _("WebRTC (LEB)")
        TRTC = "trtc", _("TRTC room")

    class DriverType(models.IntegerChoices):
        TEXT = 1, _("Text")
        AUDIO = 3, _("Audio and text")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="sessions", verbose_name=_("account"))
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions",
                                verbose_name=_("project"))
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions",
                              verbose_name=_("asset"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("created by"),
    )
    cloud_session_id = models.CharField("SessionId", max_length=64, unique=True)
    user_id = models.CharField("UserId", max_length=64)
    protocol = models.CharField(_("protocol"), max_length=8, choices=Protocol.choices)
    driver_type = models.PositiveSmallIntegerField(_("driver type"), choices=DriverType.choices)
    stream_max_interval = models.PositiveIntegerField(_("longest pause in a text stream (ms)"), default=2000)
    auto_start = models.BooleanField(_("start when ready"), default=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PREPARING)
    # May carry TRTC signatures: only ever turned into a derived, signature-free URL for browsers.
    play_stream_addr = models.TextField(blank=True)
    speak_status = models.CharField(_("speak status"), max_length=32, blank=True)
    is_orphan = models.BooleanField(_("orphan"), default=False, help_text=_("Found in the cloud, not created here."))
    close_reason = models.CharField(_("close reason"), max_length=200, blank=True)
    close_type = models.PositiveSmallIntegerField(_("close type"), null=True, blank=True)
    error_code = models.IntegerField(_("error code"), null=True, blank=True)
    error_message = models.CharField(_("error message"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    idle_warned_at = models.DateTimeField(_("warned of idleness at"), null=True, blank=True)
    # Set once the session's viewers were told a daily cap closes it within a minute.
    cap_warned_at = models.DateTimeField(_("warned of the daily cap at"), null=True, blank=True)
    # Its minutes are in UsageDay (it was confirmed closed on an earlier day): see usage_rollup.
    rolled_up = models.BooleanField(_("rolled up into daily usage"), default=False)
    # Paid concurrency ends when the cloud says so, not when this row does: empty until the cloud
    # confirmed the session closed (status 2 or 4, "no such session", or absent from two list
    # calls in a row). Every row without it is converged with the cloud by the sweeps.
    cloud_closed_at = models.DateTimeField(_("Confirmed closed in the cloud"), null=True, blank=True)
    # closesession retries of an ended row: the next one is not due before next_close_at, which
    # also covers a close claimed by a process that died before finishing it.
    close_attempts = models.PositiveIntegerField(_("close attempts"), default=0)
    next_close_at = models.DateTimeField(_("next close attempt"), null=True, blank=True)
    # Consecutive reconciliations whose list left this session out.
    unlisted_count = models.PositiveSmallIntegerField(_("times left out of the cloud's list"), default=0)
    # What the viewers' players reported (player_metrics.py), summed over every viewer: the first
    # frame painted after the session became ready, the slowest first frame after a reconnect, and
    # the stalls (no new frame while live) with the time they lasted.
    first_frame_ms = models.PositiveIntegerField(_("Time to first frame (ms)"), null=True, blank=True)
    player_reconnects = models.PositiveIntegerField(_("player reconnects"), default=0)
    reconnect_frame_ms_max = models.PositiveIntegerField(_("Slowest first frame after a reconnect (ms)"),
                                                         null=True, blank=True)
    player_stalls = models.PositiveIntegerField(_("player stalls"), default=0)
    player_stalled_ms = models.PositiveBigIntegerField(_("time without video (ms)"), default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        indexes = [
            # What the sweeps walk every cycle: the rows that may still hold cloud concurrency.
            models.Index(fields=["account", "status"], condition=models.Q(cloud_closed_at__isnull=True),
                         name="session_unconfirmed"),
            models.Index(fields=["status", "created_at"], name="session_status_created"),
            # With closed_at, what the audit chart and totals read of a range of sessions, without
            # visiting the rows.
            models.Index(fields=["account", "created_at", "closed_at"], name="session_account_created"),
            models.Index(fields=["project", "created_at"], name="session_project_created"),
            models.Index(fields=["asset", "created_at"], name="session_asset_created"),
            models.Index(models.F("account"), SESSION_LIFETIME, name="session_account_lifetime"),
            # The audit totals: what to take off UsageDay's billed seconds for a lifetime here.
            models.Index(fields=["created_at"], condition=ROLLED_UP_CLOSE_GAP, name="session_rolled_up_close_gap"),
            # An operator's minutes today, checked on every create and every idle sweep.
            models.Index(fields=["created_by", "created_at"], name="session_creator_created"),
            # The Usage page reads the rows not yet rolled up: today's and the unconfirmed ones.
            models.Index(fields=["created_at"], condition=models.Q(rolled_up=False), name="session_not_rolled_up"),
        ]

    def __str__(self) -> str:
        return self.cloud_session_id

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES

    @property
    def awaits_cloud_close(self) -> bool:
        """Ended here, but the cloud has not yet confirmed it stopped billing."""
        return self.status in self.ENDED_STATUSES and self.cloud_closed_at is None

    @property
    def player_figures(self) -> list[str]:
        """What the viewers' players reported about the video, as short phrases (empty until one
        reported anything): shown on the session page and in the audit history."""
        figures = []
        if self.first_frame_ms is not None:
            figures.append(gettext("first frame after %(time)s") % {"time": _seconds(self.first_frame_ms)})
        if self.player_stalls:
            figures.append(ngettext("%(count)s stall, %(time)s without video", "%(count)s stalls, %(time)s without video",
                                    self.player_stalls)
                           % {"count": self.player_stalls, "time": _seconds(self.player_stalled_ms)})
        elif figures:
            figures.append(gettext("no stalls"))
        if self.player_reconnects:
            figures.append(ngettext("%(count)s reconnect, slowest first frame after %(time)s",
                                    "%(count)s reconnects, slowest first frame after %(time)s", self.player_reconnects)
                           % {"count": self.player_reconnects, "time": _seconds(self.reconnect_frame_ms_max or 0)})
        return figures

    @property
    def source_label(self) -> str:
        if self.project_id:
            return gettext("project %(name)s") % {"name": self.project}
        if self.asset_id:
            return gettext("asset %(name)s") % {"name": self.asset}
        return gettext("unknown source")

    @property
    def source_english(self) -> str:
        """`source_label` as it is stored and told to every viewer, whatever their language: in
        English, which each page puts in its own (static/js/labels.js)."""
        with translation.override(None):
            return self.source_label


class OperatorBudget(models.Model):
    """An operator's daily cap of session-minutes, over every account they create sessions in."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget",
                                verbose_name=_("user"))
    daily_minutes_cap = models.PositiveIntegerField(
        _("Daily cap (session-minutes)"),
        help_text=_("Session-minutes this person's sessions may use per day; a create past it is refused "
                    "and their live sessions are closed at it."),
    )

    class Meta:
        ordering = ["user__username"]
        verbose_name = _("operator budget")
        verbose_name_plural = _("operator budgets")

    def __str__(self) -> str:
        return f"{self.user} ({self.daily_minutes_cap} min/day)"


class DayOfUse(models.Model):
    """What a rollup row is counted by: the day its sessions were created, and their account,
    project, asset and operator (the Usage page's groups)."""

    day = models.DateField()
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    class Meta:
        abstract = True


class UsageDay(DayOfUse):
    """Sessions and session-minutes of confirmed-closed sessions created on one day, per account,
    project, asset and operator: what the Usage page sums instead of a month of sessions.

    Rows are only ever added; a session billing again after its minutes were rolled up adds a
    row taking them back out (see usage_rollup), so sums stay exact.
    """

    sessions = models.IntegerField()
    seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="usageday_day")]


class LatencyDay(models.Model):
    """How many utterances of an account's rolled-up sessions created on one day started speaking
    within each start-latency bucket (`latency.bucket_of`): what the Usage page's percentiles by
    day and account sum instead of every utterance. Added to only, like UsageDay; by account only,
    as finer groups would multiply its rows by every bucket."""

    day = models.DateField()
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    bucket_ms = models.PositiveIntegerField()
    utterances = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="latencyday_day")]


class SavedDay(models.Model):
    """Session-minutes the console's own closes saved, of rolled-up sessions created on one day,
    per kind of close (the audit action): what "minutes saved" sums (see usage.minutes_saved)."""

    day = models.DateField()
    action = models.CharField(max_length=40)
    sessions = models.IntegerField()
    seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="savedday_day")]


class Utterance(models.Model):
    """One drive command sent to the avatar, and what became of it."""

    class Kind(models.TextChoices):
        HTTP_TEXT = "http_text", _("Text (HTTP)")
        TEXT = "text", _("Text")
        STREAM = "stream", _("Streamed text")
        AUDIO = "audio", _("Audio")

    class State(models.TextChoices):
        QUEUED = "queued", UTTERANCE_STATE_LABELS["queued"]
        SPEAKING = "speaking", UTTERANCE_STATE_LABELS["speaking"]
        DONE = "done", UTTERANCE_STATE_LABELS["done"]
        INTERRUPTED = "interrupted", UTTERANCE_STATE_LABELS["interrupted"]
        FAILED = "failed", UTTERANCE_STATE_LABELS["failed"]

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="utterances",
                                verbose_name=_("session"))
    req_id = models.CharField("ReqId", max_length=32, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    text = models.TextField(_("text"), blank=True)
    audio_bytes = models.PositiveIntegerField(_("audio bytes"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("created by"),
    )
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.QUEUED)
    error = models.CharField(_("error"), max_length=500, blank=True)
    # When the console received it from the operator's page: what its latencies are measured from.
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Milliseconds after created_at that its first frame went upstream, the cloud first answered
    # about it (a Waiting*, start or error status), the avatar started speaking it, and it ended.
    # Empty when it never got there, or when the console that sent it was not the one that heard.
    upstream_ms = models.PositiveIntegerField(_("went upstream after (ms)"), null=True, blank=True)
    ack_ms = models.PositiveIntegerField(_("acknowledged after (ms)"), null=True, blank=True)
    start_ms = models.PositiveIntegerField(_("started speaking after (ms)"), null=True, blank=True)
    end_ms = models.PositiveIntegerField(_("ended after (ms)"), null=True, blank=True)

    TIMINGS = ("upstream_ms", "ack_ms", "start_ms", "end_ms")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("utterance")
        verbose_name_plural = _("utterances")
        # Every speak status moves one utterance of one session: found by both at once, that
        # costs the same in an all-day kiosk session as in a new one.
        indexes = [models.Index(fields=["session", "req_id"], name="utterance_session_req")]


class SessionEvent(models.Model):
    """A status change, downstream event or error of a session, in order."""

    class Kind(models.TextChoices):
        STATUS = "status", pgettext_lazy("event kind", "status change")
        SPEAK = "speak", pgettext_lazy("event kind", "speak status")
        LLM = "llm", pgettext_lazy("event kind", "bot answer")
        ERROR = "error", pgettext_lazy("event kind", "error")
        NOTE = "note", pgettext_lazy("event kind", "note")

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="events", verbose_name=_("session"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    message = models.CharField(_("message"), max_length=1000)
    data = models.JSONField(_("data"), default=dict, blank=True)
    # When it happened: an avatar's event is written a moment after it arrived, with its arrival
    # time, so a reloaded transcript keeps the order the pages were shown.
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("session event")
        verbose_name_plural = _("session events")

    @property
    def message_is_console_words(self) -> bool:
        """The console's English (a status change, a speak status, an error), which each page puts in
        its own language; a bot's answer is the bot's own words."""
        return self.kind != self.Kind.LLM


class AuditEntry(models.Model):
    """One operator action. Rows are written once and never changed."""

    class Action(models.TextChoices):
        CREATE_FROM_PROJECT = "create_from_project", _("Create from a project")
        CREATE_FROM_ASSET = "create_from_asset", _("Create from an asset")
        START = "start", _("Start")
        CLOSE = "close", _("Close")
        CLOSE_IDLE = "close_idle", _("Close when idle")
        CLOSE_ORPHAN = "close_orphan", _("Close an orphan")
        CLOSE_CAP = "close_cap", _("Close at a daily cap")
        RECONCILE_CLOSE = "reconcile_close", _("Closed in the cloud")
        ORPHAN_FOUND = "orphan_found", _("Orphan found")
        ADOPT = "adopt", _("Adopt an orphan")
        UPDATE_CONFIG = "update_config", _("Change the layout")
        TRTC_SIGN = "trtc_sign", _("Join the TRTC room")
        DRIVE_TEXT = "drive_text", _("Speak a text")
        DRIVE_STREAM = "drive_stream", _("Stream a text")
        DRIVE_AUDIO = "drive_audio", _("Speak audio")
        INTERRUPT = "interrupt", _("Interrupt")
        SCRIPT_CREATE = "script_create", _("Create a script")
        SCRIPT_UPDATE = "script_update", _("Change a script")
        SCRIPT_DELETE = "script_delete", _("Delete a script")
        SCRIPT_IMPORT = "script_import", _("Import a script")
        KIOSK_CREATE = "kiosk_create", _("Create a kiosk")
        KIOSK_UPDATE = "kiosk_update", _("Change a kiosk")
        KIOSK_OPEN = "kiosk_open", _("Open a kiosk session")

    # Their detail is the text an operator had the avatar say. Every other detail is as the console
    # wrote it (why a session closed, a refusal, a script's name and size): in English, which each
    # page puts in its own language.
    SPOKEN_ACTIONS = frozenset({Action.DRIVE_TEXT, Action.DRIVE_STREAM})

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    ok = models.BooleanField(_("succeeded"), default=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("account"))
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("project"))
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("asset"))
    session = models.ForeignKey(LiveSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit",
                                verbose_name=_("session"))
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        # The audit log's filters, each newest first: a filter that matches nothing reads no more
        # than its own rows (failures are few, hence only they are indexed).
        indexes = [models.Index(fields=["account", "created_at"], name="audit_account_created"),
                   models.Index(fields=["action", "created_at"], name="audit_action_created"),
                   models.Index(fields=["actor", "created_at"], name="audit_actor_created"),
                   models.Index(fields=["created_at"], condition=models.Q(ok=False), name="audit_failed_created")]

    @property
    def detail_is_console_words(self) -> bool:
        return self.action not in self.SPOKEN_ACTIONS

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit entries are immutable")
        super().save(*args, **kwargs)
