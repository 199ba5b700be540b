import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.utils import translation

from sessions_app.accounts import account_register
from sessions_app.roles import AUDITOR, OPERATOR
from tcadh_console.celery import app as celery_app

# Tasks queued by services go nowhere in these tests: each test calls the services and tasks it
# exercises directly, so ordering is explicit and nothing runs behind its back.
celery_app.conf.broker_url = "memory://"
celery_app.conf.task_always_eager = False


LAYERS = {
    "in-memory": lambda tmp: {"BACKEND": "channels.layers.InMemoryChannelLayer"},
    # What ships as the embedded default, so what the consumer tests prove holds where it runs.
    "sqlite-file": lambda tmp: {"BACKEND": "tcadh_console.file_layer.SQLiteChannelLayer",
                                "CONFIG": {"path": str(tmp / "channels.sqlite3")}},
}
# The modules that drive consumers run on every layer; the others on the in-memory one.
CONSUMER_MODULES = {"test_chat", "test_consumers"}


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__.rsplit(".", 1)[-1] in CONSUMER_MODULES:
        metafunc.parametrize("channel_layer", list(LAYERS), indirect=True)


@pytest.fixture(autouse=True)
def no_language_left_active():
    """A test client's request leaves its language active on the test's thread (LocaleMiddleware
    activates it, nothing deactivates it): the next test starts from the default again."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fresh_cache():
    """Orphan sightings and polling marks are keyed by primary keys that tests reuse."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def channel_layer(request, settings, tmp_path):
    """The layer this test runs on; a new one per test, since changing the setting resets them."""
    kind = getattr(request, "param", "in-memory")
    settings.CHANNEL_LAYERS = {"default": LAYERS[kind](tmp_path)}
    return kind


@pytest.fixture
def account(sim, db):
    demo = sim.demo
    return account_register(name="Simulator", base_url=sim.base_url, appkey=demo["appkey"],
                            accesstoken=demo["accesstoken"], uin=demo["uin"], projects=demo["projects"],
                            assets=demo["assets"], concurrency_limit=demo.get("concurrency"))


def _user(username: str, group: str | None = None, **flags) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, **flags)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def operator(db):
    return _user("olivia", OPERATOR)


@pytest.fixture
def auditor(db):
    return _user("aaron", AUDITOR)


@pytest.fixture
def admin_user(db):
    return _user("ada", is_staff=True, is_superuser=True)
