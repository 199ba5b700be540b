"""Settings read from the environment say which variable is wrong, at start-up."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_a_bad_number_in_the_environment_names_its_variable(tmp_path):
    env = {**os.environ, "TCADH_VAR_DIR": str(tmp_path), "TCADH_SWEEP_IDLE_SECONDS": "thirty",
           "DJANGO_SETTINGS_MODULE": "tcadh_console.settings"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "TCADH_SWEEP_IDLE_SECONDS must be an integer, not 'thirty'" in result.stderr
