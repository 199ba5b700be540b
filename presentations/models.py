from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from sessions_app.models import Account, Asset, LiveSession, Project


class DemoScript(models.Model):
    """An ordered list of cues a presenter steps through, optionally tied to an avatar source.

    The project or asset decides which action codes the SSML helper offers; a script without one
    can still be presented on any session.
    """

    name = models.CharField(_("name"), max_length=100)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("account"))
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("project"))
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("asset"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("script")
        verbose_name_plural = _("scripts")

    def __str__(self) -> str:
        return self.name


class Cue(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        PAUSE = "pause", _("Pause")

    script = models.ForeignKey(DemoScript, on_delete=models.CASCADE, related_name="cues", verbose_name=_("script"))
    position = models.PositiveIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=5, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(_("text"), blank=True, help_text=_("What the avatar says; SSML tags allowed."))
    pause_seconds = models.DecimalField(_("pause (seconds)"), max_digits=5, decimal_places=1, default=Decimal("0"),
                                        validators=[MinValueValidator(Decimal("0")),
                                                    MaxValueValidator(Decimal("600"))])
    note = models.TextField(_("presenter note"), blank=True, help_text=_("For the presenter's eyes only."))

    class Meta:
        ordering = ["script", "position", "id"]
        verbose_name = _("cue")
        verbose_name_plural = _("cues")
        constraints = [models.UniqueConstraint(fields=["script", "position"], name="unique_cue_position")]

    def __str__(self) -> str:
        return f"{self.script} #{self.position}"


slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]*$", _("Lower-case letters, digits and dashes."))


class KioskConfig(models.Model):
    """An unattended screen: the page at /present/kiosk/<slug>/ runs a session of its own."""

    slug = models.SlugField(_("address (slug)"), max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(_("name"), max_length=100)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("project"))
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("asset"))
    script = models.ForeignKey(DemoScript, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               verbose_name=_("attract script"),
                               help_text=_("Cues spoken when the session starts and again whenever it has "
                                         "been idle for the attract interval."))
    attract_every_minutes = models.PositiveSmallIntegerField(_("attract every (minutes idle)"), default=3,
                                                             validators=[MinValueValidator(1)])
    window_start = models.TimeField(_("opens at"), null=True, blank=True,
                                    help_text=_("Daily opening time (console time zone); empty = always open."))
    window_end = models.TimeField(_("closes at"), null=True, blank=True,
                                  help_text=_("Daily closing time; earlier than the opening time = overnight."))
    protocol = models.CharField(_("protocol"), max_length=8, choices=LiveSession.Protocol.choices,
                                default=LiveSession.Protocol.RTMP)
    driver_type = models.PositiveSmallIntegerField(_("driver type"), choices=LiveSession.DriverType.choices,
                                                   default=LiveSession.DriverType.TEXT)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    # Set while a page is creating a session, so two requests never create two (see kiosk_open).
    opening_at = models.DateTimeField(_("session being created since"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("kiosk")
        verbose_name_plural = _("kiosks")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(project__isnull=False, asset__isnull=True)
                | models.Q(project__isnull=True, asset__isnull=False),
                name="kiosk_project_xor_asset",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def source(self) -> Project | Asset:
        return self.project or self.asset


class KioskRun(models.Model):
    """One session a kiosk page created, and how recently that page said it is still open."""

    kiosk = models.ForeignKey(KioskConfig, on_delete=models.CASCADE, related_name="runs", verbose_name=_("kiosk"))
    session = models.OneToOneField(LiveSession, on_delete=models.CASCADE, related_name="kiosk_run",
                                   verbose_name=_("session"))
    page_id = models.CharField(_("page"), max_length=40)
    heartbeat_at = models.DateTimeField(_("last heartbeat"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # In English, as the console wrote it, like a session's close reason (each page shows it in its language).
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("kiosk run")
        verbose_name_plural = _("kiosk runs")
        indexes = [models.Index(fields=["kiosk", "ended_at"], name="kioskrun_kiosk_ended")]

    def __str__(self) -> str:
        return f"{self.kiosk} → {self.session}"
