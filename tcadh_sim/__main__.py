"""`python -m tcadh_sim --host 127.0.0.1 --port 8001 [--config FILE.toml] [--demo-account-json]`"""

from __future__ import annotations

import argparse
import json
import sys

from .config import ConfigError, SimConfig, load_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tcadh_sim", description="Local TCADH gateway simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--config", help="TOML file with [timing], [behaviour], [play], [control], [[accounts]]")
    parser.add_argument(
        "--demo-account-json",
        action="store_true",
        help="print the first account (the built-in demo account without --config) as JSON and exit",
    )
    parser.add_argument("--log-level", default="info")
    return parser


def _banner(config: SimConfig, base_url: str, built_in: bool) -> str:
    lines = [f"tcadh_sim listening on {base_url}"]
    for account in config.accounts:
        lines.append(f"  uin {account.uin}  appkey {account.appkey}  concurrency {account.concurrency}")
        # Only the built-in demo account's secret is shown: it is public by design.
        if built_in:
            lines.append(f"  accesstoken {account.accesstoken}")
        lines += [f"  project {p}" for p in account.projects] + [f"  asset {a}" for a in account.assets]
    if config.control_enabled:
        lines.append(f"  control API enabled at {base_url}/_sim/")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config) if args.config else SimConfig()
    except (ConfigError, OSError) as exc:
        print(f"tcadh_sim: {exc}", file=sys.stderr)
        return 2
    base_url = f"http://{args.host}:{args.port}"
    if args.demo_account_json:
        account = config.accounts[0]
        print(
            json.dumps(
                {
                    "base_url": base_url,
                    "appkey": account.appkey,
                    "accesstoken": account.accesstoken,
                    "uin": account.uin,
                    "concurrency": account.concurrency,
                    "projects": list(account.projects),
                    "bot_projects": list(account.bot_projects),
                    "assets": list(account.assets),
                }
            )
        )
        return 0

    import uvicorn

    from .app import create_app
    from .log_redaction import logging_config

    app = create_app(config)
    print(_banner(config, base_url, built_in=not args.config), flush=True)
    # No access log: request lines are noise here. The WebSocket handshake lines uvicorn logs
    # anyway carry signed queries, which logging_config() redacts.
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level, access_log=False, log_config=logging_config()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
