"""Run the whole console on one machine: simulator, Celery worker and beat, and daphne.

The simulator is registered as the demo account, so a new user can create a session at once.
Any process that exits takes the others down with it, so a broken start is never half-running.
"""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from sessions_app.accounts import admin_ensure


class Command(BaseCommand):
    help = "Start the simulator, a Celery worker, Celery beat and daphne; stop them all on Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-simulator", action="store_true",
                            help="Do not start the simulator (use real accounts only).")
        parser.add_argument("--simulator-config", default="", help="TOML file for the simulator.")

    def handle(self, *args, host, port, no_simulator, simulator_config, **options):
        password = admin_ensure()
        if password:
            self.stdout.write(self.style.SUCCESS(
                f"\nFirst run: log in at http://{host}:{port}/ as user 'admin' with password '{password}'.\n"
                "This password is shown only once; change it in the admin (Users) or with "
                "'python manage.py changepassword admin'.\n"))
        python = sys.executable
        commands = []
        if not no_simulator:
            sim = urlsplit(settings.TCADH_SIM_URL)
            config = ["--config", simulator_config] if simulator_config else []
            call_command("register_simulator", url=settings.TCADH_SIM_URL, config=simulator_config,
                         stdout=self.stdout)
            commands.append(("simulator", [python, "-m", "tcadh_sim", "--host", sim.hostname,
                                           "--port", str(sim.port), *config]))
        commands += [
            ("worker", [python, "-m", "celery", "-A", "tcadh_console", "worker", "--pool=threads",
                        "--concurrency=8", "--loglevel=INFO", "--without-gossip", "--without-mingle"]),
            ("beat", [python, "-m", "celery", "-A", "tcadh_console", "beat", "--loglevel=INFO"]),
            ("web", [python, "-m", "daphne", "-b", host, "-p", str(port), "tcadh_console.asgi:application"]),
        ]
        self._supervise(commands, host, port)

    def _supervise(self, commands, host, port) -> None:
        procs = {}
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, argv in commands:
            procs[name] = subprocess.Popen(argv, env=env)
        self.stdout.write(self.style.SUCCESS(f"Console running at http://{host}:{port}/ (Ctrl-C stops everything)"))
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the console.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
