"""Convergence: how long after a fault the cloud holds a session closed, and what never closes.

Starts the chaos tier's cluster (PostgreSQL and Redis on 127.0.0.1, two daphne processes, a
threads worker, beat and the simulator, with 5 s sweeps), plays one seeded chaos run through it —
sessions created and closed through the console's forms, random cloud faults, cloud-side closes,
orphans, worker / beat / web kills — then stops the faults and waits for the two sides to agree.
Prints the leaked / stuck / lost counts and, for the sessions the console decided to end, the
time until the cloud held them closed: p50 and max of those a fault held up (target: under two
sweep cycles).

    .venv/bin/python bench/convergence.py [--seed N] [--sessions 64] [--faults 65] [--seconds 90]
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chaos.cluster import start_chaos_cluster  # noqa: E402
from tests.chaos.run import run_chaos  # noqa: E402
from tests.cluster_support import servers_missing  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--faults", type=int, default=65)
    parser.add_argument("--orphans", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=90)
    args = parser.parse_args()
    missing = servers_missing()
    if missing:
        sys.exit(f"convergence needs PostgreSQL and Redis on 127.0.0.1; {missing} did not answer")
    # The orphans' own cloud calls meet the armed faults too; the report counts what that did.
    logging.getLogger("tcadh").setLevel(logging.ERROR)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    cluster = start_chaos_cluster(Path(tempfile.mkdtemp(prefix="convergence-")))
    try:
        run = run_chaos(cluster, seed=seed, seconds=args.seconds, sessions=args.sessions, faults=args.faults,
                        orphans=args.orphans)
    finally:
        cluster.stop()
    print(run.report(cluster.logs))


if __name__ == "__main__":
    main()
