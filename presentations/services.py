"""Scripts (their cues, the plain-text format) and kiosks (the sessions their pages keep alive).

Kiosk sessions are ordinary sessions made by `sessions_app.services`, so the audit, the idle
sweep and the reconciler treat them like any other; a KioskRun only remembers which page keeps
each one open and when that page last said so.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sessions_app import lifecycle
from sessions_app import services as session_services
from sessions_app import sweeps
from sessions_app.models import Asset, AuditEntry, LiveSession, Project
from tcadh.errors import TcadhError

from .limits import SCRIPT_MAX_BYTES, SCRIPT_MAX_CUES
from .models import Cue, DemoScript, KioskConfig, KioskRun

Action = AuditEntry.Action
logger = logging.getLogger(__name__)

ServiceError = session_services.ServiceError

# A kiosk page heartbeats every 10 s; three missed beats and its session is closed.
HEARTBEAT_STALE_SECONDS = 30
# A page that died between claiming a kiosk and creating its session does not block it longer.
OPEN_CLAIM_SECONDS = 60
PAUSE_MAX_SECONDS = Decimal("600")


# -- scripts ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CueSpec:
    kind: str
    text: str = ""
    pause_seconds: Decimal = Decimal("0")
    note: str = ""


def _source_account(project: Project | None, asset: Asset | None):
    if project is not None and asset is not None:
        raise ServiceError(_("choose a project or an asset, not both"))
    source = project or asset
    return source.account if source is not None else None


def _normalise(spec: CueSpec) -> CueSpec:
    if "\x00" in spec.text or "\x00" in spec.note:
        # The cloud cannot speak it and PostgreSQL cannot store it.
        raise ServiceError(_("a cue cannot hold a NUL character"))
    # Blank lines inside a cue would split it in two on the next import: keep single newlines.
    text = re.sub(r"\n\s*\n+", "\n", spec.text.replace("\r\n", "\n")).strip()
    note = re.sub(r"\n\s*\n+", "\n", spec.note.replace("\r\n", "\n")).strip()
    if spec.kind == Cue.Kind.PAUSE:
        if not (Decimal("0") < spec.pause_seconds <= PAUSE_MAX_SECONDS):
            raise ServiceError(_("a pause lasts more than 0 and at most %(max)s seconds") % {"max": PAUSE_MAX_SECONDS})
        return CueSpec(Cue.Kind.PAUSE, "", spec.pause_seconds, note)
    if spec.kind != Cue.Kind.TEXT:
        raise ServiceError(_("unknown cue kind %(kind)r") % {"kind": spec.kind})
    if not text and not note:
        raise ServiceError(_("a text cue needs text or a note"))
    return CueSpec(Cue.Kind.TEXT, text, Decimal("0"), note)


def _within_limits(cues: list[CueSpec]) -> list[CueSpec]:
    """The same limits whichever way the cues came: what one way saves, the other can open."""
    if len(cues) > SCRIPT_MAX_CUES:
        raise ServiceError(_("a script has at most %(max)s cues; this one has %(count)s") % {"max": SCRIPT_MAX_CUES, "count": len(cues)})
    size = len(script_text_format(cues).encode("utf-8"))
    if size > SCRIPT_MAX_BYTES:
        raise ServiceError(_("a script is at most %(max)s KB as text; this one is %(size)s KB")
                           % {"max": SCRIPT_MAX_BYTES // 1024, "size": size // 1024})
    return cues


def _write_cues(script: DemoScript, cues: list[CueSpec]) -> None:
    script.cues.all().delete()
    Cue.objects.bulk_create([
        Cue(script=script, position=index, kind=spec.kind, text=spec.text, pause_seconds=spec.pause_seconds,
            note=spec.note)
        for index, spec in enumerate(cues, start=1)
    ])


def script_create(*, user, name: str, cues: list[CueSpec], project: Project | None = None,
                  asset: Asset | None = None, action: Action = Action.SCRIPT_CREATE) -> DemoScript:
    account = _source_account(project, asset)
    cues = _within_limits([_normalise(spec) for spec in cues])
    with transaction.atomic():
        script = DemoScript.objects.create(name=name.strip() or "Untitled script", account=account,
                                           project=project, asset=asset, created_by=user)
        _write_cues(script, cues)
        session_services.audit_record(actor=user, action=action, account=account, project=project, asset=asset,
                                      detail=f"script {script.pk} “{script.name}”, {len(cues)} cues")
    return script


def script_update(*, user, script: DemoScript, name: str, cues: list[CueSpec], project: Project | None = None,
                  asset: Asset | None = None) -> DemoScript:
    """Replace the script's name, source and cues in one go (the editor always sends them all)."""
    account = _source_account(project, asset)
    cues = _within_limits([_normalise(spec) for spec in cues])
    with transaction.atomic():
        script.name = name.strip() or script.name
        script.account, script.project, script.asset = account, project, asset
        script.save()
        _write_cues(script, cues)
        session_services.audit_record(actor=user, action=Action.SCRIPT_UPDATE, account=account, project=project,
                                      asset=asset, detail=f"script {script.pk} “{script.name}”, {len(cues)} cues")
    return script


def script_delete(*, user, script: DemoScript) -> None:
    with transaction.atomic():
        session_services.audit_record(actor=user, action=Action.SCRIPT_DELETE, account=script.account,
                                      project=script.project, asset=script.asset,
                                      detail=f"script {script.pk} “{script.name}”")
        script.delete()


_PAUSE = re.compile(r"^\[\s*pause\s+(\d+(?:\.\d+)?)\s*s?\s*\]$", re.IGNORECASE)
_NOTE = re.compile(r"^>(?: |$)")


def script_text_parse(text: str) -> list[CueSpec]:
    """Plain text to cues: one cue per paragraph; "[pause 3]" is a pause; "> " lines are notes.

    A line starting with a backslash is text taken literally (the backslash dropped), so a cue can
    say "> " or "[pause 3]" aloud.
    """
    cues = []
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff"))
    for number, paragraph in enumerate(paragraphs, start=1):
        lines = [line.rstrip() for line in paragraph.strip("\n").split("\n")]
        notes = [_NOTE.sub("", line, count=1) for line in lines if _NOTE.match(line)]
        said = [line[1:] if line.startswith("\\") else line for line in lines if not _NOTE.match(line)]
        literal = any(line.startswith("\\") for line in lines if not _NOTE.match(line))
        body = "\n".join(said).strip()
        if not body and not any(note.strip() for note in notes):
            continue
        pause = None if literal else _PAUSE.match(body)
        if pause:
            try:
                seconds = Decimal(pause.group(1)).quantize(Decimal("0.1"))
            except InvalidOperation:
                raise ServiceError(_("paragraph %(number)s: “%(body)s” is not a pause length")
                                   % {"number": number, "body": body}) from None
            if not (Decimal("0") < seconds <= PAUSE_MAX_SECONDS):
                raise ServiceError(_("paragraph %(number)s: a pause lasts more than 0 and at most %(max)s seconds")
                                   % {"number": number, "max": PAUSE_MAX_SECONDS})
            cues.append(CueSpec(Cue.Kind.PAUSE, "", seconds, "\n".join(notes).strip()))
        else:
            cues.append(CueSpec(Cue.Kind.TEXT, body, Decimal("0"), "\n".join(notes).strip()))
    return cues


def _seconds_text(seconds: Decimal) -> str:
    return format(Decimal(seconds).normalize(), "f")


def script_text_format(cues: list[Cue] | list[CueSpec]) -> str:
    """Cues back to the plain-text format; parsing the result gives the same cues."""
    paragraphs = []
    for cue in cues:
        lines = [f"> {line}" if line else ">" for line in cue.note.split("\n")] if cue.note else []
        if cue.kind == Cue.Kind.PAUSE:
            lines.append(f"[pause {_seconds_text(cue.pause_seconds)}]")
        else:
            said = cue.text.split("\n") if cue.text else []
            needs_escape = bool(_PAUSE.match(cue.text.strip()))
            for line in said:
                if needs_escape or _NOTE.match(line) or line.startswith("\\"):
                    line = "\\" + line
                    needs_escape = False
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs) + ("\n" if paragraphs else "")


def script_import(*, user, name: str, text: str, project: Project | None = None,
                  asset: Asset | None = None) -> DemoScript:
    cues = script_text_parse(text)
    if not cues:
        raise ServiceError(_("the text has no cues: write one paragraph per cue"))
    return script_create(user=user, name=name, cues=cues, project=project, asset=asset, action=Action.SCRIPT_IMPORT)


# -- kiosks -------------------------------------------------------------------------------------

def kiosk_save(*, user, kiosk: KioskConfig) -> KioskConfig:
    """Create or change a kiosk; whoever creates it owns the sessions it makes."""
    created = kiosk.pk is None
    with transaction.atomic():
        if created:
            kiosk.created_by = user
        kiosk.save()
        session_services.audit_record(actor=user, action=Action.KIOSK_CREATE if created else Action.KIOSK_UPDATE,
                                      account=kiosk.source.account, project=kiosk.project, asset=kiosk.asset,
                                      detail=f"kiosk {kiosk.slug}")
    return kiosk


def window_is_open(kiosk: KioskConfig, at: datetime) -> bool:
    if kiosk.window_start is None or kiosk.window_end is None or kiosk.window_start == kiosk.window_end:
        return True
    now = timezone.localtime(at).time()
    if kiosk.window_start < kiosk.window_end:
        return kiosk.window_start <= now < kiosk.window_end
    return now >= kiosk.window_start or now < kiosk.window_end


def window_next_open(kiosk: KioskConfig, at: datetime) -> datetime | None:
    """When the daily window opens next, or None if it never closes."""
    if window_is_open(kiosk, at) and (kiosk.window_start is None or kiosk.window_end is None):
        return None
    local = timezone.localtime(at)
    opens = local.replace(hour=kiosk.window_start.hour, minute=kiosk.window_start.minute, second=0, microsecond=0)
    return opens if opens > local else opens + timedelta(days=1)


@dataclass(frozen=True)
class KioskState:
    """What the kiosk page should do next.

    state: "live" (play `run.session`), "ended" (its session is over: open a new one),
    "busy" (another screen runs this kiosk), "starting" (another request is creating the session),
    "after_hours", "disabled" or "error" (wait and ask again).
    """

    state: str
    run: KioskRun | None = None
    message: str = ""
    opens_at: datetime | None = None


def _open_run(kiosk: KioskConfig) -> KioskRun | None:
    return (KioskRun.objects.filter(kiosk=kiosk, ended_at__isnull=True)
            .select_related("session__account", "session__project", "session__asset").first())


def kiosk_run_end(*, run: KioskRun, reason: str, user=None) -> bool:
    """End a run and close its session if still live. False if someone else ended it first."""
    claimed = KioskRun.objects.filter(pk=run.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason[:200])
    if not claimed:
        return False
    session = LiveSession.objects.select_related("account").get(pk=run.session_id)
    if session.is_live:
        try:
            session_services.session_close(user=user, session=session, reason=f"kiosk {run.kiosk.slug}: {reason}")
        except ServiceError as exc:
            # The idle sweep closes it later: no page heartbeats keep it active any more.
            logger.warning("closing kiosk session %s failed: %s", session.pk, exc)
    return True


def _end_if_over(run: KioskRun) -> bool:
    """A run whose session closed or failed on its own is over; True if so."""
    run.session.refresh_from_db()
    if run.session.is_live:
        return False
    KioskRun.objects.filter(pk=run.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=(run.session.close_reason or f"session {run.session.status}")[:200])
    return True


def _closed_reason(kiosk: KioskConfig, now: datetime) -> str | None:
    if not kiosk.enabled:
        return "the kiosk was switched off"
    if not window_is_open(kiosk, now):
        return "outside the kiosk's daily window"
    return None


def kiosk_runs_sweep(*, now: datetime | None = None) -> list[int]:
    """Close the sessions of kiosk pages that went away or whose kiosk is closed now.

    Run by beat and at every kiosk request, so a page that vanished without its goodbye (a crash,
    a pulled cable) does not leave a billed session behind. Returns the ended runs' ids.
    """
    now = now or timezone.now()
    ended = []
    stale = now - timedelta(seconds=HEARTBEAT_STALE_SECONDS)
    for run in KioskRun.objects.filter(ended_at__isnull=True).select_related("kiosk", "session"):
        reason = _closed_reason(run.kiosk, now)
        if reason is None and run.heartbeat_at < stale:
            reason = "the kiosk page stopped responding"
        if reason is None:
            if _end_if_over(run):
                ended.append(run.pk)
            continue
        if kiosk_run_end(run=run, reason=reason):
            ended.append(run.pk)
    return ended


def _claim_opening(kiosk: KioskConfig, now: datetime) -> bool:
    cutoff = now - timedelta(seconds=OPEN_CLAIM_SECONDS)
    return bool(KioskConfig.objects.filter(pk=kiosk.pk)
                .filter(Q(opening_at__isnull=True) | Q(opening_at__lt=cutoff)).update(opening_at=now))


def kiosk_user_id(kiosk: KioskConfig) -> str:
    # One UserId per kiosk: should a session of ours ever be left open, the cloud closes it
    # when the kiosk creates the next one (PROTOCOL.md §7.4).
    return f"kiosk-{kiosk.pk}-{kiosk.slug}"[:64]


def kiosk_open(*, user, kiosk: KioskConfig, page_id: str, now: datetime | None = None) -> KioskState:
    """A kiosk page asks for its session: the one it already has, or a new one."""
    now = now or timezone.now()
    kiosk_runs_sweep(now=now)
    kiosk.refresh_from_db()
    if not kiosk.enabled:
        return KioskState("disabled", message=_("This kiosk is switched off."))
    if not window_is_open(kiosk, now):
        return KioskState("after_hours", message=_("This kiosk is closed now."), opens_at=window_next_open(kiosk, now))
    run = _open_run(kiosk)
    if run is not None and _end_if_over(run):
        run = None
    if run is not None:
        if run.page_id == page_id:
            KioskRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
            return KioskState("live", run)
        return KioskState("busy", message=_("This kiosk is open on another screen."))
    if not _claim_opening(kiosk, now):
        return KioskState("starting", message=_("The kiosk is starting its session."))
    try:
        session = lifecycle.session_create(user=kiosk.created_by or user, spec=session_services.NewSession(
            account=kiosk.source.account, project=kiosk.project, asset=kiosk.asset, user_id=kiosk_user_id(kiosk),
            protocol=kiosk.protocol, driver_type=kiosk.driver_type, auto_start=True,
        ))
    except ServiceError as exc:
        return KioskState("error", message=_("The session could not be created: %(error)s.") % {"error": exc})
    finally:
        KioskConfig.objects.filter(pk=kiosk.pk).update(opening_at=None)
    with transaction.atomic():
        run = KioskRun.objects.create(kiosk=kiosk, session=session, page_id=page_id, heartbeat_at=now)
        session_services.audit_record(actor=user, action=Action.KIOSK_OPEN, session=session,
                                      detail=f"kiosk {kiosk.slug}")
    return KioskState("live", KioskRun.objects.select_related("session__account").get(pk=run.pk))


def _settle_with_cloud(session: LiveSession) -> None:
    """Learn at once that the cloud closed the session, instead of at the next reconcile."""
    try:
        sweeps.session_settle_unlisted(session=session)
    except TcadhError as exc:
        logger.info("statsession for kiosk session %s failed: %s", session.pk, exc)


def kiosk_heartbeat(*, user, kiosk: KioskConfig, page_id: str, session_pk: int, check_cloud: bool = True,
                    now: datetime | None = None) -> KioskState:
    """The page is still open and showing `session_pk`: keep that session alive, or say it is over."""
    now = now or timezone.now()
    kiosk_runs_sweep(now=now)
    kiosk.refresh_from_db()
    run = (KioskRun.objects.filter(kiosk=kiosk, session_id=session_pk, page_id=page_id)
           .select_related("session__account", "session__project", "session__asset").first())
    if run is None:
        return KioskState("ended", message=_("This page has no session of this kiosk."))
    if run.ended_at is not None:
        if not kiosk.enabled:
            return KioskState("disabled", message=_("This kiosk is switched off."))
        if not window_is_open(kiosk, now):
            return KioskState("after_hours", message=_("This kiosk is closed now."),
                              opens_at=window_next_open(kiosk, now))
        return KioskState("ended", run, message=run.end_reason)
    session = run.session
    if check_cloud and session.status in (LiveSession.Status.READY, LiveSession.Status.STARTED):
        _settle_with_cloud(session)
    if _end_if_over(run):
        run.refresh_from_db()
        return KioskState("ended", run, message=run.end_reason)
    KioskRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
    if session.status == LiveSession.Status.STARTED:
        # An open kiosk page counts as activity: the idle sweep must not close what it shows.
        session_services.session_touch(session=session)
    return KioskState("live", run)


def kiosk_close(*, user, kiosk: KioskConfig, page_id: str, session_pk: int | None = None,
                reason: str = "the kiosk page was closed") -> bool:
    """The page is going away: close its session now rather than after the heartbeat goes stale."""
    runs = KioskRun.objects.filter(kiosk=kiosk, page_id=page_id, ended_at__isnull=True).select_related("kiosk")
    if session_pk is not None:
        runs = runs.filter(session_id=session_pk)
    closed = False
    for run in runs:
        closed = kiosk_run_end(run=run, reason=reason, user=user) or closed
    return closed
