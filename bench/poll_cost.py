"""Cloud calls per minute the console makes to keep track of N live sessions over A accounts.

Runs one cycle of each periodic sweep (reconcile, idle sweep, preparing-session safety net)
against a real simulator, counts the calls with the simulator's /_sim/calls, and scales them by
the beat schedule (runs per minute) seeded in sessions_app/migrations/0002_periodic_sweeps.py.
Besides the N live sessions, N/10 sessions are still preparing, as right after a burst of creates.

Target: one listsessionofuin per account per reconcile cycle plus one statsession per preparing
session per poll cycle. "Naive" tracks live sessions by asking statsession about each of them every
reconcile cycle instead of listing each account once; it is compared on the live-tracking part only.

    .venv/bin/python bench/poll_cost.py
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCENARIOS = [(10, 1), (10, 10), (100, 1), (100, 10), (1000, 1), (1000, 10)]
MAX_ACCOUNTS = max(a for _, a in SCENARIOS)
PREPARE_SECONDS = 20  # long enough that the preparing sessions are still preparing when measured


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sim_config(path: Path) -> list[dict]:
    accounts = [{"uin": f"2000000000{i:02d}", "appkey": f"{i:02d}" + "a" * 30, "accesstoken": f"{i:02d}" + "b" * 30,
                 "projects": [f"{i:02d}" + "c" * 30]} for i in range(MAX_ACCOUNTS)]
    lines = [f"[timing]\nprepare_seconds = {PREPARE_SECONDS}\n", "[control]\nenabled = true\n"]
    for account in accounts:
        lines.append("[[accounts]]")
        lines += [f'{key} = "{account[key]}"' for key in ("uin", "appkey", "accesstoken")]
        lines += ["concurrency = 5000", f'projects = ["{account["projects"][0]}"]', ""]
    path.write_text("\n".join(lines))
    return accounts


def start_sim(config: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tcadh_sim", "--host", "127.0.0.1", "--port", str(port),
                             "--config", str(config)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the simulator did not start")


def setup_django(var_dir: Path) -> None:
    os.environ["TCADH_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tcadh_console.settings")
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    import django
    from django.core.management import call_command

    django.setup()
    # One log line per cloud call would bury the table.
    logging.getLogger("tcadh").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        sim_accounts = sim_config(tmp_path / "sim.toml")
        proc, base_url = start_sim(tmp_path / "sim.toml")
        try:
            setup_django(tmp_path / "var")
            run(base_url, sim_accounts)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def run(base_url: str, sim_accounts: list[dict]) -> None:
    from django.core.cache import cache
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from sessions_app import sweeps
    from sessions_app.accounts import account_register
    from sessions_app.models import LiveSession
    from tcadh import TcadhClient

    per_minute = {t.task.rsplit(".", 1)[-1]: 60 / t.interval.every
                  for t in PeriodicTask.objects.filter(task__startswith="sessions_app.tasks.")}
    accounts = [account_register(name=f"bench-{i}", base_url=base_url, appkey=a["appkey"],
                                 accesstoken=a["accesstoken"], uin=a["uin"], projects=a["projects"])
                for i, a in enumerate(sim_accounts)]

    def calls_since(stamp: float) -> dict[str, int]:
        return requests.get(f"{base_url}/_sim/calls", params={"since": stamp}, timeout=30).json()["counts"]

    def now_stamp() -> float:
        return requests.get(f"{base_url}/_sim/calls", params={"since": 1e18}, timeout=30).json()["now"]

    print(f"beat schedule (runs per minute): {json.dumps({k: round(v, 1) for k, v in per_minute.items()})}")
    header = f"{'N live':>7} {'A':>3} {'P prep':>6} | {'list/min':>8} {'stat/min':>8} {'total/min':>9} | " \
             f"{'target/min':>10} {'ratio':>6} | {'tracking live: naive/min':>24} {'ours/min':>8} {'saved':>7}"
    print(header)
    print("-" * len(header))
    for n_live, n_accounts in SCENARIOS:
        requests.post(f"{base_url}/_sim/reset", timeout=30)
        LiveSession.objects.all().delete()
        cache.clear()
        used = accounts[:n_accounts]
        preparing = max(n_live // 10, 1)
        now = timezone.now()
        rows = []
        for i in range(n_live + preparing):
            account = used[i % n_accounts]
            client = TcadhClient(account.base_url, account.appkey, account.accesstoken)
            project = account.projects.first()
            created = client.create_session(project_id=project.project_id, user_id=f"bench-{i}", protocol="rtmp")
            live = i < n_live
            # Live ones are "started" here; the cloud list is what reconcile compares, and it lists
            # preparing sessions too, so the row's status does not change the call count.
            rows.append(LiveSession(
                account=account, project=project, cloud_session_id=created.session_id, user_id=f"bench-{i}",
                protocol="rtmp", driver_type=1, auto_start=False,
                status="started" if live else "preparing", started_at=now if live else None, last_activity_at=now))
        LiveSession.objects.bulk_create(rows, batch_size=1000)
        # Old enough that the safety net considers them, young enough that none is idle.
        LiveSession.objects.filter(status="preparing").update(created_at=now - timezone.timedelta(seconds=10))

        def measured(cycle) -> dict[str, int]:
            stamp = now_stamp()
            cache.clear()
            cycle()
            return calls_since(stamp)

        reconcile = measured(lambda: [sweeps.account_reconcile(account=a) for a in used])
        idle = measured(sweeps.sessions_idle_sweep)
        poll = measured(lambda: sweeps.sessions_refresh_preparing())
        assert LiveSession.objects.filter(status="preparing").count() == preparing, "measure before they get ready"

        def rate(counts: dict[str, int], endpoint: str) -> float:
            return counts.get(endpoint, 0)

        list_min = rate(reconcile, "listsessionofuin") * per_minute["reconcile_accounts"]
        stat_min = (rate(reconcile, "statsession") * per_minute["reconcile_accounts"]
                    + rate(idle, "statsession") * per_minute["sweep_idle_sessions"]
                    + rate(poll, "statsession") * per_minute["poll_preparing_sessions"])
        other = sum(sum(c.values()) for c in (reconcile, idle, poll)) - sum(
            rate(c, e) for c in (reconcile, idle, poll) for e in ("listsessionofuin", "statsession"))
        total = list_min + stat_min + other
        target = n_accounts * per_minute["reconcile_accounts"] + preparing * per_minute["poll_preparing_sessions"]
        naive_tracking = n_live * per_minute["reconcile_accounts"]
        ours_tracking = list_min + rate(reconcile, "statsession") * per_minute["reconcile_accounts"]
        print(f"{n_live:>7} {n_accounts:>3} {preparing:>6} | {list_min:>8.0f} {stat_min:>8.0f} {total:>9.0f} | "
              f"{target:>10.0f} {total / target:>6.2f} | {naive_tracking:>24.0f} {ours_tracking:>8.0f} "
              f"{naive_tracking / ours_tracking:>6.0f}x")
    print("\nratio = measured / target (1.00 = on target); saved = naive / ours for tracking the live sessions.")
    print("Not counted: the per-session polling chain each create starts (it stops when the session is ready),"
          " and the closesession calls the sweeps make when they actually close something.")


if __name__ == "__main__":
    main()
