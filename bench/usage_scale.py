"""The Usage page, every audit page and the CSV exports on a year of data in PostgreSQL.

Creates its own database on 127.0.0.1:5432 (trust auth), migrates it, fills it in SQL with
generate_series (N sessions over the past 365 days, 80 % on one account, each 1 to 60 minutes
long, a fifth closed by the idle sweep; 10 utterances and 2 audit entries per session), then
times the pages in-process through Django's test client (the whole view, queries and template:
the median wall time of PAGE_RUNS views, and their mean CPU time in this process and its database
backend, which the machine's other load inflates far less) and streams each CSV export while
sampling the process's resident memory. Drops the database at
the end unless --keep or --reuse.

Filling a million sessions takes some ten minutes on two cores: --reuse measures the
database an earlier --keep or --reuse run filled with the same --sessions (migrating it first, so
new indexes are built on it), and fills it only when there is none yet. The timestamps are those
of the fill, so the newest hours are empty once it is a day old; the log says when it was filled.

Targets: each page under 100 ms; CSV memory flat (its peak growth under 100 MB).

    .venv/bin/python bench/usage_scale.py [--sessions 1000000] [--keep | --reuse] [--no-csv]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, time as day_time, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = "postgres://postgres@127.0.0.1:5432"
# The database's comment once a fill completed: "filled: N sessions at <time>".
FILLED = "filled: "
ACCOUNTS, PROJECTS_PER_ACCOUNT, ASSETS_PER_ACCOUNT, OPERATORS = 3, 4, 2, 50
UTTERANCES_PER_SESSION = 10
PAGE_RUNS = 7


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def django_setup(database: str) -> None:
    os.environ.update({
        # Its own cache and queue folders: the live-now page's cached cloud answer stays here.
        "TCADH_VAR_DIR": tempfile.mkdtemp(prefix="tcadh-usage-bench-"),
        "DATABASE_URL": f"{SERVER}/{database}", "DEBUG": "false", "SECRET_KEY": "bench-usage-scale-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false", "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "tcadh_console.settings",
        # One connection for the whole run, as a deployment with persistent connections has: its
        # backend's CPU time is read from /proc (the server runs on this machine).
        "DATABASE_CONN_MAX_AGE": "3600",
    })
    import django

    django.setup()


def insert_select(model, given: dict[str, str], tail: str) -> int:
    """INSERT … SELECT into the model's table: the given SQL per column, and for every other column
    its model default (so fields added to the models later need no change here)."""
    from django.db import connection

    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in given:
            exprs.append(given[field.column].replace("%", "%%"))  # SQL's modulo, not a placeholder
        elif field.null:
            exprs.append("NULL")
        else:
            exprs.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    unknown = set(given) - set(columns)
    assert not unknown, f"no such columns in {model._meta.db_table}: {unknown}"
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
                       f"SELECT {', '.join(exprs)} {tail.replace('%', '%%')}", params)
        return cursor.rowcount


def indexes_of(table: str) -> list[tuple[str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i LEFT JOIN pg_constraint c "
                       "ON c.conname = i.indexname WHERE i.tablename = %s AND c.conname IS NULL", [table])
        return cursor.fetchall()


def foreign_keys_of(table: str) -> list[tuple[str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE conrelid = %s::regclass AND contype = 'f'", [table])
        return cursor.fetchall()


def fill(sessions: int) -> dict:
    """Accounts, projects, assets and operators through the ORM; sessions, utterances and audit
    entries in SQL, with the big tables' secondary indexes built after the load."""
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from sessions_app.models import Account, Asset, AuditEntry, LiveSession, Project, Utterance

    admin = User.objects.create_superuser("bench-admin", password="x")
    operator_group = Group.objects.get(name="operator")
    # Unusable passwords: hashing fifty real ones would take longer than the sessions.
    users = User.objects.bulk_create([User(username=f"operator{n:02d}", password="!") for n in range(OPERATORS)])
    operator_group.user_set.add(*users)
    operators = [user.pk for user in users]
    accounts, projects, assets = [], [], []
    for a in range(ACCOUNTS):
        account = Account(name=f"Account {a}", appkey=f"bench-appkey-{a}", concurrency_limit=50, base_url="http://127.0.0.1:9")
        account.set_accesstoken("bench")
        account.save()
        accounts.append(account.pk)
        projects.append([Project.objects.create(account=account, project_id=f"p{a}-{k}", name=f"Project {a}.{k}").pk
                         for k in range(PROJECTS_PER_ACCOUNT)])
        assets.append([Asset.objects.create(account=account, asset_key=f"v{a}-{k}", name=f"Avatar {a}.{k}").pk
                       for k in range(ASSETS_PER_ACCOUNT)])

    big = [(LiveSession, LiveSession._meta.db_table), (Utterance, Utterance._meta.db_table),
           (AuditEntry, AuditEntry._meta.db_table)]
    # Loaded without secondary indexes and foreign keys (deferred, they would queue one check a
    # row until commit), both put back afterwards.
    dropped = []
    with connection.cursor() as cursor:
        for _, table in big:
            for name, definition in indexes_of(table):
                cursor.execute(f'DROP INDEX "{name}"')
                dropped.append(definition)
            for name, definition in foreign_keys_of(table):
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                dropped.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')

    # Session i: 80 % on account 0, created (i / N) of a year ago, 1 to 60 minutes long; every
    # fifth from an asset, every fifth (others) closed by the idle sweep.
    account_of = f"(CASE WHEN i % 10 < 8 THEN 0 WHEN i % 10 = 8 THEN 1 ELSE 2 END)"
    pick = lambda ids, k: "(ARRAY[" + ",".join(f"ARRAY[{','.join(map(str, row))}]" for row in ids) + \
        f"])[{account_of} + 1][{k}]"
    created = "(now() - interval '365 days' * (1 - i::float8 / {n}))".format(n=sessions)
    lifetime = "(interval '1 second' * (60 + (i::bigint * 7919) % 3540))"
    ends = f"({created} + {lifetime})"
    live = f"({ends} > now())"
    log(f"inserting {sessions:,} sessions")
    started = time.monotonic()
    insert_select(LiveSession, {
        "account_id": f"(ARRAY[{','.join(map(str, accounts))}])[{account_of} + 1]",
        "project_id": f"CASE WHEN i % 5 = 4 THEN NULL ELSE {pick(projects, f'(i / 10) % {PROJECTS_PER_ACCOUNT} + 1')} END",
        "asset_id": f"CASE WHEN i % 5 = 4 THEN {pick(assets, f'(i / 10) % {ASSETS_PER_ACCOUNT} + 1')} END",
        "created_by_id": f"(ARRAY[{','.join(map(str, operators))}])[i % {OPERATORS} + 1]",
        "cloud_session_id": "'bench-' || i", "user_id": "'user-' || i", "protocol": "'rtmp'", "driver_type": "1",
        "status": f"CASE WHEN {live} THEN 'started' ELSE 'closed' END",
        "close_reason": f"CASE WHEN {live} THEN '' WHEN i % 5 = 0 THEN 'idle' ELSE 'closed by operator' END",
        "created_at": created, "ready_at": f"{created} + interval '2 seconds'",
        "started_at": f"{created} + interval '3 seconds'",
        "last_activity_at": f"CASE WHEN i % 5 = 0 THEN {ends} - interval '300 seconds' ELSE {ends} END",
        "closed_at": f"CASE WHEN {live} THEN NULL ELSE {ends} END",
        "cloud_closed_at": f"CASE WHEN {live} THEN NULL ELSE {ends} END",
    }, f"FROM generate_series(1, {sessions}) AS i")
    timings = {"sessions": time.monotonic() - started}

    log(f"inserting {sessions * UTTERANCES_PER_SESSION:,} utterances")
    started = time.monotonic()
    insert_select(Utterance, {
        "session_id": "s.id", "req_id": "'r' || s.id || '-' || k", "kind": "'text'",
        "text": "'A sentence the avatar speaks, number ' || k", "created_by_id": "s.created_by_id",
        "state": "'done'", "created_at": "s.created_at + interval '5 seconds' * k",
        "updated_at": "s.created_at + interval '5 seconds' * k + interval '2 seconds'",
        # Spread like a real avatar's: mostly a few hundred ms to start, a long tail past a second.
        "upstream_ms": "(s.id + k) % 20", "ack_ms": "20 + (s.id * 7 + k) % 80",
        "start_ms": "150 + ((s.id * 31 + k * 17) % 600) + CASE WHEN (s.id + k) % 20 = 0 THEN 1500 ELSE 0 END",
        "end_ms": "2000 + (s.id * 13 + k * 7) % 3000",
    }, f"FROM {LiveSession._meta.db_table} s CROSS JOIN generate_series(1, {UTTERANCES_PER_SESSION}) AS k")
    timings["utterances"] = time.monotonic() - started

    log("inserting audit entries (a create and a close per session)")
    started = time.monotonic()
    insert_select(AuditEntry, {
        "actor_id": "CASE WHEN k = 2 AND s.close_reason = 'idle' THEN NULL ELSE s.created_by_id END",
        "action": "CASE WHEN k = 1 THEN 'create_from_project' WHEN s.close_reason = 'idle' THEN 'close_idle' "
                  "ELSE 'close' END",
        "ok": "true", "account_id": "s.account_id", "project_id": "s.project_id", "asset_id": "s.asset_id",
        "session_id": "s.id", "detail": "s.cloud_session_id",
        "created_at": "CASE WHEN k = 1 THEN s.created_at ELSE s.closed_at END",
    }, f"FROM {LiveSession._meta.db_table} s CROSS JOIN generate_series(1, 2) AS k "
       f"WHERE k = 1 OR s.closed_at IS NOT NULL")
    timings["audit"] = time.monotonic() - started

    log(f"building {len(dropped)} indexes and foreign keys, then analysing")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for definition in dropped:
            cursor.execute(definition)
    connection.close()
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as raw:
        raw.execute("VACUUM ANALYZE")
    timings["indexes"] = time.monotonic() - started

    # What the idle sweep does a little at a time, done at once for the year just loaded.
    from sessions_app.usage_rollup import usage_roll_up

    log("rolling up the finished days")
    started = time.monotonic()
    rolled = usage_roll_up(batch_rows=10_000, max_batches=None)
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as raw:
        raw.execute("VACUUM ANALYZE")  # what autovacuum does after the sweeps' small batches
    timings["rollup"] = time.monotonic() - started
    log(f"rolled up {rolled:,} sessions in {timings['rollup']:.0f} s")
    return {"admin": admin, "big_account": accounts[0], "timings": timings}


def filled_sessions(raw: psycopg.Connection, database: str) -> int | None:
    """How many sessions a completed fill put in `database` (its comment), None if not filled."""
    row = raw.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                      [database]).fetchone()
    if row is None or not (row[0] or "").startswith(FILLED):
        return None
    return int(row[0].removeprefix(FILLED).split()[0])


def filled_objects() -> dict:
    """What measure() needs from a database filled by an earlier run."""
    from django.contrib.auth.models import User

    from sessions_app.models import Account

    return {"admin": User.objects.get(username="bench-admin"),
            "big_account": Account.objects.get(name="Account 0").pk}


def cpu_ns() -> tuple[int, int]:
    """(backend pid, CPU time so far of this process and of that database backend, in ns): the
    work the pages cost, which other load on the machine inflates far less than wall time."""
    from django.db import connection

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with open(f"/proc/{pid}/schedstat") as stat:
        return pid, time.process_time_ns() + int(stat.read().split()[0])


def timed(call) -> dict:
    """Median and max wall time of PAGE_RUNS calls after a warm-up one, and their mean CPU time."""
    call()  # warm the templates and the plan cache
    runs = []
    pid, cpu_before = cpu_ns()
    for _ in range(PAGE_RUNS):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    same_pid, cpu_after = cpu_ns()
    return {"median_ms": statistics.median(runs), "max_ms": max(runs),
            "cpu_ms": (cpu_after - cpu_before) / PAGE_RUNS / 1e6 if same_pid == pid else None}


def time_page(client, url: str) -> dict:
    def get():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    return timed(get)


def stream_csv(client, url: str) -> dict:
    """Read the export piece by piece, as a proxy would, sampling resident memory."""
    import gc

    gc.collect()
    baseline = peak = rss_bytes()
    started = time.perf_counter()
    response = client.get(url)
    size = rows = 0
    for n, piece in enumerate(response.streaming_content):
        size += len(piece)
        rows += piece.count(b"\n")
        if n % 20 == 0:
            peak = max(peak, rss_bytes())
    peak = max(peak, rss_bytes())
    return {"rows": rows - 1, "megabytes": size / 1e6, "seconds": time.perf_counter() - started,
            "peak_growth_mb": (peak - baseline) / 1e6}


def cloud_answer_cached(account_pk: int) -> str:
    """The live-now page of the big account with the cloud's answer already cached (what the page
    does within LIVE_CACHE_SECONDS of an earlier view), listing its 50 newest sessions: the page's
    own cost, not the cloud's."""
    from django.core.cache import cache
    from django.urls import reverse

    from sessions_app.models import LiveSession

    listed = [{"session_id": session_id, "user_id": "user", "status": 3, "started": True, "driver_type": 1,
               "project_id": "", "asset_key": ""}
              for session_id in LiveSession.objects.filter(account_id=account_pk)
              .values_list("cloud_session_id", flat=True)[:50]]
    cache.set(f"audit:live:account:{account_pk}", listed, timeout=None)
    return reverse("audit_account_live", args=[account_pk])


def measure(admin, big_account: int, *, csv_exports: bool = True) -> dict:
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from sessions_app import audit
    from sessions_app.models import Account, Asset, Project

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    today = timezone.localdate()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    history = reverse("audit_account_history", args=[big_account])
    second_page = audit.sessions_page(scope="account", obj=Account.objects.get(pk=big_account),
                                      filters=audit.SessionFilters()).next_cursor
    week = f"since={today - timedelta(days=60):%Y-%m-%dT00:00}&until={today - timedelta(days=53):%Y-%m-%dT00:00}"
    project = Project.objects.filter(account_id=big_account).order_by("pk").first()
    asset = Asset.objects.filter(account_id=big_account).order_by("pk").first()
    log_url = reverse("audit_log")
    pages = {
        # Two queries and a small template: what any page costs on this machine right now.
        "baseline: the audit home page (no data)": reverse("audit_home"),
        "usage (this month)": reverse("usage"),
        f"usage ({last_month:%Y-%m}, a full month)": f"{reverse('usage')}?month={last_month:%Y-%m}",
        "audit history (account with 80 %)": history,
        "audit history, its second page": f"{history}?after={second_page}",
        "audit history, last 30 days": f"{history}?since={today - timedelta(days=30):%Y-%m-%dT00:00}",
        "audit history, a week two months ago": f"{history}?{week}",
        "audit history, one creator": f"{history}?creator=operator07",
        "audit history, closed by the idle sweep": f"{history}?close_reason=idle",
        # Filters nothing matches: a listing that walks the index finds no page to stop at.
        "audit history, a status none has (failed)": f"{history}?status=failed",
        "audit history, a protocol none used (trtc)": f"{history}?protocol=trtc",
        "audit history, all of it asked for (since 1970)": f"{history}?since=1970-01-01T00:00",
        "audit history (project)": reverse("audit_project_history", args=[project.pk]),
        "audit history (asset)": reverse("audit_asset_history", args=[asset.pk]),
        "audit by account (last 30 days)": reverse("audit_accounts"),
        "audit by project (last 30 days)": reverse("audit_projects"),
        "audit by asset (last 30 days)": reverse("audit_assets"),
        "audit by account, a whole year": f"{reverse('audit_accounts')}?since={today - timedelta(days=366):%Y-%m-%d}",
        "audit by account, closed by the idle sweep": f"{reverse('audit_accounts')}?close_reason=idle",
        "audit log": log_url,
        "audit log, one account": f"{log_url}?account={big_account}",
        "audit log, one action": f"{log_url}?action=close_idle",
        "audit log, an action never taken (adopt)": f"{log_url}?action=adopt",
        "audit log, one actor": f"{log_url}?actor=operator07",
        "audit log, failures (none)": f"{log_url}?ok=0",
        "audit live now (account, cloud answer cached)": cloud_answer_cached(big_account),
    }
    results = {name: time_page(client, url) for name, url in pages.items()}
    from sessions_app import usage

    month_end = timezone.make_aware(datetime.combine(today.replace(day=1), day_time())) - timedelta(seconds=1)
    month_start = timezone.make_aware(datetime.combine(last_month, day_time()))
    results["month to date on a month's last second (selector)"] = timed(lambda: usage.month_to_date(now=month_end))
    results["minutes saved over a full month (selector)"] = timed(
        lambda: usage.minutes_saved(since=month_start, until=month_end))
    csvs = {
        f"usage CSV ({last_month:%Y-%m})": f"{reverse('usage_export')}?month={last_month:%Y-%m}",
        "audit sessions CSV (account with 80 %, every session)": reverse("audit_account_export", args=[big_account]),
    }
    return {"pages": results, "csv": {name: stream_csv(client, url) for name, url in csvs.items() if csv_exports}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    keeping = parser.add_mutually_exclusive_group()
    keeping.add_argument("--keep", action="store_true", help="leave the database in place")
    keeping.add_argument("--reuse", action="store_true",
                         help="measure the database a --keep or --reuse run filled with as many sessions, "
                              "filling it first if there is none; leave it in place")
    parser.add_argument("--no-csv", action="store_true",
                        help="time the pages only (the audit export streams every session for a minute or two)")
    args = parser.parse_args()
    # One name per size: what --reuse looks for.
    database = f"tcadh_usage_bench_{args.sessions}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        reusing = args.reuse and filled_sessions(server, database) == args.sessions
        if not reusing:
            server.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            server.execute(f'CREATE DATABASE "{database}"')
    try:
        django_setup(database)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if reusing:
            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as raw:
                raw.execute("ANALYZE")  # the statistics of any index the migrations just built
                comment = raw.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                      "WHERE datname = current_database()").fetchone()[0]
            log(f"reusing {database}, {comment}")
            filled = filled_objects()
        else:
            started = time.monotonic()
            filled = fill(args.sessions)
            log(f"filled in {time.monotonic() - started:.0f} s: " +
                ", ".join(f"{k} {v:.0f} s" for k, v in filled["timings"].items()))
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
                server.execute(f'COMMENT ON DATABASE "{database}" IS '
                               f"'{FILLED}{args.sessions} sessions at {time.strftime('%Y-%m-%d %H:%M %Z')}'")
        figures = measure(filled["admin"], filled["big_account"], csv_exports=not args.no_csv)
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"\n{args.sessions:,} sessions, {args.sessions * UTTERANCES_PER_SESSION:,} utterances, PostgreSQL; "
              f"load average {load} on {os.cpu_count()} CPUs")
        for name, page in figures["pages"].items():
            verdict = "ok" if page["median_ms"] < 100 else "OVER 100 ms"
            cpu = "—" if page["cpu_ms"] is None else f"{page['cpu_ms']:.1f} ms"
            print(f"  {name:<55} median {page['median_ms']:7.1f} ms  max {page['max_ms']:7.1f} ms  "
                  f"CPU {cpu:>8} (console + database)  {verdict}")
        for name, export in figures["csv"].items():
            verdict = "ok" if export["peak_growth_mb"] < 100 else "OVER 100 MB"
            print(f"  {name:<55} {export['rows']:>9,} rows {export['megabytes']:7.1f} MB in {export['seconds']:5.1f} s, "
                  f"peak memory growth {export['peak_growth_mb']:6.1f} MB  {verdict}")
    finally:
        from django.db import connections

        connections.close_all()
        if "TCADH_VAR_DIR" in os.environ:
            shutil.rmtree(os.environ["TCADH_VAR_DIR"], ignore_errors=True)
        if not (args.keep or args.reuse):
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
                server.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
