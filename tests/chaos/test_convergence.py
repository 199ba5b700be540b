"""No session burns money unseen, even when the cloud and our processes fail.

Operators create sessions through the console's forms and close some of them while the
simulator answers some calls with error codes, HTTP 500/502, late or malformed bodies, fails
some creations, closes sessions itself (every CloseType) and gains orphans started behind the
console's back; the worker is killed three times, beat and one web process once each. Then the
faults stop, and once every late answer has landed and two sweep cycles have passed:

- every session the cloud still lists is live in the console (an orphan counts: it is shown);
- every session the console holds as ended is closed in the cloud;
- no row sits in `closing` or `preparing` past its deadline.

The run prints its seed (CHAOS_SEED=<seed> replays the same plan), the leaked / stuck / lost
counts, and how long the cloud took to hold a session closed after the console decided it over.
"""

import os
import random

import pytest

from .plan import CLOSE_TYPES
from .run import run_chaos


@pytest.mark.timeout(600)
def test_every_cloud_session_converges_with_the_console(chaos_cluster, capsys):
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(2**32))

    def say(text: str) -> None:
        with capsys.disabled():
            print(text, flush=True)

    say("")
    run = run_chaos(chaos_cluster, seed=seed, say=say)
    say(run.report(chaos_cluster.logs))

    # The run was the one planned: enough sessions, every kind of cloud-side close, every kill.
    assert run.outcome.submitted >= 60
    assert set(run.outcome.cloud_closes) == set(CLOSE_TYPES)
    assert sorted(run.outcome.kills) == sorted(["worker"] * 3 + ["beat", "daphne0"])

    census = run.census
    assert not census.leaked, f"{len(census.leaked)} sessions still live in the cloud, ended or unknown here"
    assert not census.stuck, f"{len(census.stuck)} rows in closing or preparing past their deadline"
    assert not census.lost, f"{len(census.lost)} sessions shown live here that the cloud has ended"
