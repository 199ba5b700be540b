"""Register a running (or about to run) simulator as the demo account."""

import json
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from sessions_app.accounts import account_register

DEMO_ACCOUNT_NAME = "Simulator (demo)"


class Command(BaseCommand):
    help = "Create or refresh the account, project and asset of the simulator's demo account."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.TCADH_SIM_URL, help="The simulator's base URL.")
        parser.add_argument("--config", default="", help="The simulator's TOML file, if it uses one.")

    def handle(self, *args, url, config, **options):
        argv = [sys.executable, "-m", "tcadh_sim", *(["--config", config] if config else []), "--demo-account-json"]
        demo = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
        account = account_register(
            name=DEMO_ACCOUNT_NAME, base_url=url, appkey=demo["appkey"], accesstoken=demo["accesstoken"],
            uin=demo["uin"], projects=demo["projects"], assets=demo["assets"],
            concurrency_limit=demo.get("concurrency"),
        )
        self.stdout.write(f"Registered {account.name} at {url}")
