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

    name = models.CharField(max_length=100)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Cue(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        PAUSE = "pause", _("Pause")

    script = models.ForeignKey(DemoScript, on_delete=models.CASCADE, related_name="cues")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(blank=True, help_text=_("What the avatar says; SSML tags allowed."))
    pause_seconds = models.DecimalField(max_digits=5, decimal_places=1, default=Decimal("0"),
                                        validators=[MinValueValidator(Decimal("0")),
                                                    MaxValueValidator(Decimal("600"))])
    note = models.TextField(blank=True, help_text=_("For the presenter's eyes only."))

    class Meta:
        ordering = ["script", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["script", "position"], name="unique_cue_position")]

    def __str__(self) -> str:
        return f"{self.script} #{self.position}"


slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]*$", "Lower-case letters, digits and dashes.")


class KioskConfig(models.Model):
    """An unattended screen: the page at /present/kiosk/<slug>/ runs a session of its own."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    script = models.ForeignKey(DemoScript, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text=_("Cues spoken when the session starts and again whenever it has "
                                         "been idle for the attract interval."))
    attract_every_minutes = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    window_start = models.TimeField(null=True, blank=True,
                                    help_text=_("Daily opening time (console time zone); empty = always open."))
    window_end = models.TimeField(null=True, blank=True,
                                  help_text=_("Daily closing time; earlier than the opening time = overnight."))
    protocol = models.CharField(max_length=8, choices=LiveSession.Protocol.choices,
                                default=LiveSession.Protocol.RTMP)
    driver_type = models.PositiveSmallIntegerField(choices=LiveSession.DriverType.choices,
                                                   default=LiveSession.DriverType.TEXT)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # Set while a page is creating a session, so two requests never create two (see kiosk_open).
    opening_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "kiosk"
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

    kiosk = models.ForeignKey(KioskConfig, on_delete=models.CASCADE, related_name="runs")
    session = models.OneToOneField(LiveSession, on_delete=models.CASCADE, related_name="kiosk_run")
    page_id = models.CharField(max_length=40)
    heartbeat_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kiosk", "ended_at"], name="kioskrun_kiosk_ended")]

    def __str__(self) -> str:
        return f"{self.kiosk} → {self.session}"
