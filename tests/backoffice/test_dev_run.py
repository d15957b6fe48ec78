"""dev.py run ADDRESS: the URL printed with the demo logins is the one actually served."""

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location(
    "dev", Path(__file__).resolve().parents[2] / "dev.py")
dev = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dev)


@pytest.mark.parametrize(("address", "url"), [
    ("8001", "http://127.0.0.1:8001/admin/"),
    ("0.0.0.0:8001", "http://localhost:8001/admin/"),
    ("0:8003", "http://localhost:8003/admin/"),
    ("127.0.0.1:8002", "http://127.0.0.1:8002/admin/"),
    ("localhost:9000", "http://localhost:9000/admin/"),
    ("192.168.1.20:8000", "http://192.168.1.20:8000/admin/"),
    ("[::1]:8000", "http://[::1]:8000/admin/"),
    ("[::]:8000", "http://localhost:8000/admin/"),
])
def test_the_address_served_becomes_the_url_printed(address, url):
    assert dev.served_url(address) == url


def test_the_default_address_is_the_readme_one():
    assert dev.served_url() == "http://127.0.0.1:8000/admin/"


@pytest.mark.parametrize("address", [
    "", ":", "abc", "8000x", "0", "65536", "127.0.0.1:", ":8000", "127.0.0.1:0",
    "127.0.0.1:８０００", "host name:8000", "evil/path:8000", "http://127.0.0.1:8000",
    "127.0.0.1:8000\n", "127.0.0.1:-1", "[]:8000",
])
def test_an_address_runserver_would_not_take_is_refused_with_the_forms(address):
    with pytest.raises(ValueError, match="give a port"):
        dev.served_url(address)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_any_text_gives_a_url_or_a_refusal(text):
    try:
        url = dev.served_url(text)
    except ValueError:
        return
    assert url.startswith("http://") and url.endswith("/admin/")
    assert not any(char.isspace() for char in url)


def test_run_refuses_a_bad_address_before_installing_anything(capsys, monkeypatch):
    monkeypatch.setattr(dev, "ensure_venv", lambda: pytest.fail("installed first"))
    assert dev.run(["not an address"]) == 2
    assert "give a port" in capsys.readouterr().err


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.integers(1, 65535).map(str),
    st.tuples(st.sampled_from([*sorted(dev._ANY_INTERFACE), "127.0.0.1", "localhost",
                               "[::1]", "192.168.1.20", "dev-box.local"]),
              st.integers(1, 65535)).map(lambda pair: f"{pair[0]}:{pair[1]}")))
def test_every_url_dev_py_passes_is_one_the_demo_command_takes(address):
    # dev.py run hands served_url(ADDRESS) to `manage.py demo --url`: the demo's strict
    # check must never refuse what dev.py serves.
    from backoffice.management.commands.demo import admin_url

    assert admin_url(dev.served_url(address)) == dev.served_url(address)
