"""A hand-typed or hostile id in a URL, a filter parameter or a bulk action's selection
answers 404, a redirect or a message: never a 500, and never a request upstream.

The URLs come from the URL configuration (every ModelAdmin's get_urls included), as in
test_url_matrix, so a view added later is met here too.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode, urlsplit

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory
from django.urls import resolve
from django.urls.exceptions import Resolver404

from backoffice.admin import StrictInputMixin
from backoffice.ids import PK_MAX, parse_pk
from registrar.models import Registration
from tests.backoffice import test_url_matrix as matrix
from tests.backoffice.test_url_matrix import _CONVERTER, _REGEX_GROUP, admin_model, key_of, routes

#: The fixture: one real object of every model the admin shows.
world = matrix.world

#: Ids typed by hand or forged: not a number, too large for any database, negative,
#: digits of another script (int() accepts "١٢"), exponent notation, a NUL byte, and
#: a well-formed id that names nothing.
HOSTILE_IDS = ("abc", "9" * 400, "-1", "١٢", "1e3", "\x00", "0")
HUGE = "9" * 400

#: The parameters that carry a row's id.
ID_PARAMETERS = {"object_id", "pk", "id", "user_id", "approval_id", "order_id",
                 "content_type_id"}


def _value_for(name: str, world, route: str) -> str | None:
    model = admin_model(route)
    return {
        "operation": "lock",
        "host_name": world.host.host_name,
        "action": "resend",
        "app_label": "registrar",
        "url": "no-such-page/",
        "kind": world.provider.kind,
        "label": world.provider.label,
        "content_type_id": None,
        "object_id": str(world.objects[model].pk) if model in world.objects else None,
    }.get(name)


def id_routes() -> list[str]:
    found = []
    for route in routes():
        names = set(_CONVERTER.findall(route)) | set(_REGEX_GROUP.findall(route))
        if names & ID_PARAMETERS:
            found.append(route)
    return found


def hostile_urls(world, hostile: str) -> list[str]:
    """Every id-taking route with `hostile` for each id parameter, one at a time; the
    other parameters hold real values."""
    urls = []
    for route in id_routes():
        names = [m for m in (_CONVERTER.findall(route) + _REGEX_GROUP.findall(route))
                 if m in ID_PARAMETERS]
        for target in dict.fromkeys(names):

            def value(match: re.Match, target=target, route=route) -> str:
                name = match.group(1)
                if name == target:
                    return quote(hostile, safe="")
                real = _value_for(name, world, route)
                if real is None:  # a second id beside the hostile one: any real row
                    real = str(world.order.pk if name == "order_id" else world.target.pk)
                return quote(real, safe="")

            urls.append("/" + _CONVERTER.sub(value, _REGEX_GROUP.sub(value, route)).replace(
                "^", "").replace("$", ""))
    return urls


def acceptable(response, url: str) -> bool:
    """404, 400, 403 (a page refused before any lookup), or a redirect to the admin index
    (Django's "no such object" for its own pages) or to the change page (the bare
    <object_id>/ route)."""
    if response.status_code in (400, 403, 404):
        return True
    if response.status_code != 302:
        return False
    path = urlsplit(response["Location"]).path
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.view_name == "admin:index" or match.view_name.endswith("_change")


@pytest.fixture
def root(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.users["superuser"])
    return client


def test_parse_pk_takes_only_ascii_digits_within_the_id_range():
    assert parse_pk("12") == 12
    assert parse_pk(str(PK_MAX)) == PK_MAX
    for value in (*HOSTILE_IDS, str(PK_MAX + 1), " 12", "12 ", "+12", "1_000", "", None):
        assert parse_pk(value) is None, value


def test_every_admin_parses_ids_and_filters_strictly():
    loose = [type(model_admin).__name__ for model_admin in admin.site._registry.values()
             if not isinstance(model_admin, StrictInputMixin)]
    assert loose == []


def test_the_routes_with_ids_are_found():
    keys = {key_of(route) for route in id_routes()}
    assert "admin/registrar/process/<object_id>/<action>/" in keys
    assert "admin/contacts/contact/<object_id>/edit/" in keys
    assert "finance/orders/<pk>/" in keys


@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=repr)
def test_a_hostile_id_in_any_url_is_not_found(world, root, hostile):
    wrong = []
    for url in hostile_urls(world, hostile):
        response = root.get(url)
        if not acceptable(response, url):
            wrong.append((url[:120], response.status_code))
    assert wrong == [], "\n".join(map(str, wrong))
    assert world.sandbox.transport.requests == []


@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=repr)
def test_a_hostile_id_posted_to_any_url_changes_nothing_and_sends_nothing(
        world, root, hostile):
    locked_before = Registration.objects.filter(locked=True).count()
    wrong = []
    for url in hostile_urls(world, hostile):
        response = root.post(url, {"confirm": "on", "reason": "test", "post": "yes"})
        if not acceptable(response, url):
            wrong.append((url[:120], response.status_code))
    assert wrong == [], "\n".join(map(str, wrong))
    assert world.sandbox.transport.requests == []
    assert Registration.objects.filter(locked=True).count() == locked_before


# --- changelist parameters -----------------------------------------------------------


def changelist_parameters(model_admin, user) -> list[str]:
    """Every query parameter the changelist's filters and date hierarchy read, and its
    page number and ordering."""
    request = RequestFactory().get("/")
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    names = {"p", "o"}
    for spec in changelist.filter_specs:
        names.update(spec.expected_parameters())
    if model_admin.date_hierarchy:
        names.update(f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month",
                                                                         "day"))
    return sorted(names)


@pytest.mark.parametrize("bad", (HUGE, "-" + HUGE, "abc"), ids=("huge", "-huge", "abc"))
def test_a_hostile_changelist_parameter_never_crashes(world, root, bad):
    wrong = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        for name in changelist_parameters(model_admin, world.users["superuser"]):
            params = {name: bad}
            if name.endswith(("__month", "__day")):
                params[f"{model_admin.date_hierarchy}__year"] = "2024"
            response = root.get(f"{url}?{urlencode(params)}")
            if response.status_code >= 500:
                wrong.append((url, name, response.status_code))
    assert wrong == [], "\n".join(map(str, wrong))


def test_a_dropped_filter_is_named_in_a_message(world, root):
    response = root.get("/admin/billing/order/?" + urlencode(
        {"provider_account__id__exact": HUGE, "status": "placed"}), follow=True)
    assert response.status_code == 200
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("provider_account__id__exact" in text for text in texts), texts


# --- bulk actions --------------------------------------------------------------------


@pytest.mark.parametrize("selected", ([HUGE], ["abc"], ["١٢"], ["-1"]),
                         ids=("huge", "abc", "arabic", "negative"))
@pytest.mark.parametrize("confirmed", (False, True), ids=("first-step", "confirmed"))
def test_a_bulk_action_with_a_forged_selection_does_nothing(world, root, selected,
                                                            confirmed):
    real = str(world.registration.pk)
    data = {"action": "bulk_lock", "_selected_action": [real, *selected], "index": "0"}
    if confirmed:
        data["post"] = "yes"
    response = root.post("/admin/registrar/registration/", data)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/admin/registrar/registration/"
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Some selected ids were not valid; nothing was done." in texts
    assert world.sandbox.transport.requests == []
    world.registration.refresh_from_db()
    assert not world.registration.locked
