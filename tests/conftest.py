import httpx
import pytest

from backoffice.roles import ADMIN, FINANCE, SUPPORT
from tests.factories import UserFactory
from tests.fakes.sandbox import RecordingTransport, SandboxControl
from tests.log_guard import remember_secret

pytest_plugins = ["tests.log_guard", "tests.hostile.tally"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: what one test's pages, throttles or
    answers left there (backoffice/changelist.py remembers where pages start) must not
    be read by the next, whose rows are different."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield


@pytest.fixture
def support_user(db):
    return UserFactory(username="support-test", groups=[SUPPORT])


@pytest.fixture
def finance_user(db):
    return UserFactory(username="finance-test", groups=[FINANCE])


@pytest.fixture
def admin_user_role(db):
    """A member of the Admin group (not a superuser)."""
    return UserFactory(username="admin-test", groups=[ADMIN])


@pytest.fixture
def plain_staff_user(db):
    return UserFactory(username="staff-test", groups=[])


@pytest.fixture
def role_users(support_user, finance_user, admin_user_role, plain_staff_user):
    return {SUPPORT: support_user, FINANCE: finance_user, ADMIN: admin_user_role,
            "staff": plain_staff_user}


# --- the sandbox upstream, observed at the HTTP boundary ---------------------------


@pytest.fixture
def sandbox(db):
    """A fresh in-memory sandbox, reached through a recording transport, seeded from
    the mirror on demand: `sandbox.seed()` after creating rows with factories."""
    from django.conf import settings

    from registrar.providers.registry import override_transport
    from registrar.sandbox import get_app, reset_sandbox
    from registrar.sandbox.seed import seed_from_mirror

    remember_secret(settings.SANDBOX_TOKEN)  # no log line may show it
    reset_sandbox()
    app = get_app()
    recorder = RecordingTransport(httpx.WSGITransport(app=app))
    control = SandboxControl(app)
    control.transport = recorder
    control.seed = seed_from_mirror
    with override_transport("sandbox", recorder):
        yield control
    reset_sandbox()
