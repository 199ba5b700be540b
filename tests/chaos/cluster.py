"""The chaos tier's cluster: production processes with short timing knobs, and an account with
room for every session of a run (concurrency refusals are not the faults under test)."""

import os
from dataclasses import dataclass
from pathlib import Path

from tests.cluster_support import Cluster

REDIS = os.environ.get("CHAOS_REDIS", "redis://127.0.0.1:6379/10")

# Short production knobs, so that "two sweep cycles" is seconds, not minutes.
SWEEP_SECONDS = 5
STALE_CLOSING_SECONDS = 10
ORPHAN_CONFIRM_SECONDS = 4
CLOSE_RETRY_MAX_SECONDS = 5
READY_TIMEOUT_SECONDS = 15
IDLE_LIMIT_SECONDS = 20
KNOBS = {
    "TCADH_SWEEP_IDLE_SECONDS": SWEEP_SECONDS,
    "TCADH_SWEEP_RECONCILE_SECONDS": SWEEP_SECONDS,
    "TCADH_SWEEP_PREPARING_SECONDS": SWEEP_SECONDS,
    "TCADH_STALE_CLOSING_SECONDS": STALE_CLOSING_SECONDS,
    "TCADH_ORPHAN_CONFIRM_SECONDS": ORPHAN_CONFIRM_SECONDS,
    "TCADH_CLOSE_RETRY_MAX_SECONDS": CLOSE_RETRY_MAX_SECONDS,
    "TCADH_READY_TIMEOUT_SECONDS": READY_TIMEOUT_SECONDS,
}


@dataclass(frozen=True)
class CloudAccount:
    appkey: str
    accesstoken: str
    project: str
    asset: str


ACCOUNT = CloudAccount(appkey="c4a05c4a05c4a05c4a05c4a05c4a05c4", accesstoken="0c4a0c4a" * 4,
                       project="c4a0f00dc4a0f00dc4a0f00dc4a0f00d", asset="c4a0a55ec4a0a55ec4a0a55ec4a0a55e")
SIM_TOML = f"""[[accounts]]
uin = "100077770000"
appkey = "{ACCOUNT.appkey}"
accesstoken = "{ACCOUNT.accesstoken}"
concurrency = 500
projects = ["{ACCOUNT.project}"]
assets = ["{ACCOUNT.asset}"]
"""
# Idle sessions and unadopted orphans get closed within the run (the sweeps' periods are knobs).
SETUP = (
    "from sessions_app.models import Account, Asset, Project; "
    f"Project.objects.update(idle_limit_seconds={IDLE_LIMIT_SECONDS}); "
    f"Asset.objects.update(idle_limit_seconds={IDLE_LIMIT_SECONDS}); "
    "Account.objects.update(orphan_autoclose_minutes=1)",
)


def start_chaos_cluster(tmp: Path) -> Cluster:
    return Cluster(tmp, sim_toml=SIM_TOML, redis_url=REDIS, env={name: str(value) for name, value in KNOBS.items()},
                   setup=SETUP, db_prefix="tcadh_chaos")
