import pytest

from backoffice.roles import ADMIN, FINANCE, SUPPORT
from tests.factories import UserFactory


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
