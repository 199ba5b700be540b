# The console's fixtures (accounts on the simulator, users by role, an in-memory channel layer,
# Celery tasks that go nowhere unless a test runs them).
from tests.console.conftest import account, admin_user, auditor, channel_layer, operator  # noqa: F401
