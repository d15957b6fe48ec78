"""docs/endpoints.md against the five provider documents and the code.

The endpoint list is parsed out of the documents themselves, so a document that gains
an endpoint fails here until docs/endpoints.md has a row for it. Each row's adapter
method must exist, its admin URL names must be registered and its commands must exist;
and every endpoint must be reached by both a staff page and a command.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import get_commands, load_command_class
from django.urls import get_resolver

REPO = Path(__file__).resolve().parent.parent
ENDPOINTS_MD = REPO / "docs" / "endpoints.md"
# The documents live beside the checkout, not in it (they are not ours to ship).
DOCS_DIR = Path(os.environ.get("PROVIDER_DOCS_DIR", REPO.parent / "shared" / "provider-docs"))

ENTRI = "000_69f5a4d563a9adad.txt"
DOMAIN_API = "001_9e535de8bf528f66.txt"
DOMAINEE = "002_3d0abe1e4ae4bee6.txt"
SALESHANDY = "003_64165f59af24ffd6.txt"
NAMECOM = "004_e21f6fec8931254f.txt"

METHODS = "GET|POST|PUT|PATCH|DELETE"
NONE = "\N{EM DASH}"

pytestmark = pytest.mark.skipif(not DOCS_DIR.is_dir(),
                                reason=f"provider documents not found in {DOCS_DIR}")


def normalise(endpoint: str) -> str:
    """`METHOD /path` with every path parameter (`:id`, `{domain_name}`) as `{}`, so
    the documents' and our spellings compare; an endpoint named in words (name.com)
    is kept as it is."""
    endpoint = " ".join(endpoint.split())
    if not re.match(rf"(?:{METHODS}) /", endpoint):
        return endpoint
    method, path = endpoint.split(" ", 1)
    path = re.sub(r"\{[^}/]+\}|:[a-z_]+", "{}", path.rstrip("./"))
    return f"{method} {path}"


# --- the documents ---------------------------------------------------------------------
# Each document states its endpoints its own way; one parser per document, each keyed on
# how that document writes an endpoint rather than on the endpoints it has today.


def _entri(text: str) -> set[str]:
    # A line `GET `/domains/...` — what it does`, the path relative to the API base; the
    # token endpoint is written as an absolute URL outside that base: keep its path.
    return {normalise(f"{m} {urlsplit(p).path or p}") for m, p in
            re.findall(rf"^({METHODS}) `((?:https://[^/`\s]+)?/[^`\s]*)`", text,
                       flags=re.MULTILINE)}


def _domain_api(text: str) -> set[str]:
    # A line starting `METHOD /api/...` or `METHOD .../x`, where `...` is the path the
    # section is nested under ("Nested under /api/.../hosts" names it; before any such
    # sentence it is the registration, `/api/domain_registrations/:id`). Methods named
    # mid-sentence are references (e.g. "the same envelope as POST /api/orders").
    found: set[str] = set()
    prefix = "/api/domain_registrations/:id"
    for line in text.splitlines():
        nested = re.search(r"^(/api/\S+?)/[a-z_]+\.?(?:\s|$)", line)
        if nested and "Nested under" in _previous(text, line):
            prefix = nested.group(1)
        match = re.match(rf"({METHODS}) ((?:\.\.\.)?/[A-Za-z0-9_/:.\-]*)", line)
        if match:
            method, path = match.groups()
            if path.startswith("..."):
                path = prefix + path[3:]
            found.add(normalise(f"{method} {path}"))
    # "poll the returned order via /api/orders/:id": a poll is a read.
    for path in re.findall(r"\bpoll the returned \w+ via\s+(/api/\S+)", text):
        found.add(normalise(f"GET {path}"))
    return found


def _previous(text: str, line: str) -> str:
    """The line before the first occurrence of `line` in `text`."""
    lines = text.splitlines()
    index = lines.index(line)
    return lines[index - 1] if index else ""


def _unglue(path: str, known: set[str]) -> str:
    """`/v1/domainswith` -> `/v1/domains`: the page flattening glued a word to the path.
    Glue is a path that another path of the document extends by letters only (a real
    sub-path goes on with `/` or `-`); the longest such path is the real one."""
    glued = [other for other in known if other != path and path.startswith(other)
             and re.fullmatch(r"[a-z]{2,}", path[len(other):])]
    return max(glued, key=len) if glued else path


def _v1(text: str, *, anywhere: bool) -> set[str]:
    # `METHOD /v1/...`, the method and path sometimes without a space or on two lines,
    # and the path sometimes glued to the next word (lower case: "domainswith") or the
    # next method (upper case: "searchGET", which the lower-case class stops at).
    start = "" if anywhere else "^"
    known = set(re.findall(r"/v1/[a-z0-9/\-]+", text))
    return {normalise(f"{m} {_unglue(p, known)}") for m, p in
            re.findall(rf"{start}({METHODS})\s*(/v1/[a-z0-9/\-]+)", text, flags=re.MULTILINE)}


def _domainee(text: str) -> set[str]:
    found = _v1(text, anywhere=False)
    # "filter the list endpoint by it": the purchases are listed at the path they are
    # created at.
    if re.search(r"\bthe list endpoint\b", text):
        created = sorted(e.split(" ", 1)[1] for e in found if e.startswith("POST /v1/domain-"))
        found |= {f"GET {path}" for path in created}
    return found


def _saleshandy(text: str) -> set[str]:
    # The purchase flow names the other endpoints mid-sentence.
    return _v1(text, anywhere=True)


def _namecom(text: str) -> set[str]:
    # No paths: endpoints are named. The "Endpoint roles" table's first column, plus the
    # operations named as an imperative verb and a capitalised noun ("Create Transfer").
    names: set[str] = set()
    table = re.search(r"^\| Endpoint \|.*\n\|[-| ]+\|\n((?:\|.*\n)+)", text, flags=re.MULTILINE)
    assert table, "004: the Endpoint roles table was not found"
    for row in table.group(1).splitlines():
        names.add(row.split("|")[1].strip())
    names |= set(re.findall(r"\b(?:Create|Renew|Delete|Update|List) [A-Z][a-z]+\b", text))
    return names


PARSERS = {ENTRI: _entri, DOMAIN_API: _domain_api, DOMAINEE: _domainee,
           SALESHANDY: _saleshandy, NAMECOM: _namecom}


def documented() -> dict[str, set[str]]:
    return {name: parse((DOCS_DIR / name).read_text(encoding="utf-8"))
            for name, parse in PARSERS.items()}


# --- docs/endpoints.md -----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    document: str
    endpoint: str
    adapter: str
    pages: tuple[tuple[str, str], ...]  # (URL name, operation in brackets or "")
    commands: tuple[str, ...]

    @property
    def gaps(self) -> list[str]:
        return [what for what, have in (("page", self.pages), ("command", self.commands))
                if not have]


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def listed() -> list[Row]:
    rows: list[Row] = []
    document = None
    for line in ENDPOINTS_MD.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## .*\(`(\d{3}_[0-9a-f]+\.txt)`\)", line)
        if heading:
            document = heading.group(1)
            continue
        if not line.startswith("| `") or document is None:
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 5, f"docs/endpoints.md: a row needs 5 cells: {line}"
        endpoint, _, adapter, page, command = cells
        pages = tuple((name, operation) for name, operation in
                      re.findall(r"`([a-z_]+:[a-z_]+)`(?: \(([a-z_]+)\))?", page))
        rows.append(Row(document=document, endpoint=normalise(_ticked(endpoint)[0]),
                        adapter=(_ticked(adapter) or [""])[0], pages=pages,
                        commands=tuple(c for c in _ticked(command) if c.startswith("manage.py "))))
    return rows


# --- the tests -------------------------------------------------------------------------


def test_every_document_states_endpoints():
    """A parser that finds nothing would make the comparison below pass vacuously."""
    counts = {name: len(found) for name, found in documented().items()}
    assert all(counts.values()), counts


def test_the_list_matches_the_documents():
    docs = documented()
    ours: dict[str, set[str]] = {}
    for row in listed():
        ours.setdefault(row.document, set()).add(row.endpoint)
    problems = []
    for name, endpoints in docs.items():
        for missing in sorted(endpoints - ours.get(name, set())):
            problems.append(f"{name}: {missing} is documented but not in docs/endpoints.md")
        for extra in sorted(ours.get(name, set()) - endpoints):
            problems.append(f"{name}: {extra} is in docs/endpoints.md but not documented")
    for name in sorted(set(ours) - set(docs)):
        problems.append(f"docs/endpoints.md has a table for unknown document {name}")
    assert not problems, "\n".join(problems)


def test_no_endpoint_is_listed_twice():
    seen = [(row.document, row.endpoint) for row in listed()]
    assert len(seen) == len(set(seen)), sorted({s for s in seen if seen.count(s) > 1})


def test_every_adapter_method_exists():
    problems = []
    for row in listed():
        if row.adapter in ("", NONE):
            continue
        module_name, _, attribute = row.adapter.partition(":")
        target = importlib.import_module(module_name)
        try:
            for part in attribute.split("."):
                target = getattr(target, part)
        except AttributeError:
            problems.append(f"{row.endpoint}: {row.adapter} does not exist")
            continue
        if not callable(target):
            problems.append(f"{row.endpoint}: {row.adapter} is not callable")
    assert not problems, "\n".join(problems)


def _url_names() -> set[str]:
    resolver = get_resolver()
    names = {key for key in resolver.reverse_dict if isinstance(key, str)}
    for namespace, (_, sub) in resolver.namespace_dict.items():
        names |= {f"{namespace}:{key}" for key in sub.reverse_dict if isinstance(key, str)}
    return names


def test_every_staff_page_is_a_url():
    from registrar.admin import PROCESS_ACTIONS
    from registrar.services import OPERATIONS

    # The bracketed word is the page's operation: it must be one the page serves.
    operations = {"admin:registrar_registration_operation": set(OPERATIONS),
                  "admin:registrar_process_action": set(PROCESS_ACTIONS)}
    names = _url_names()
    problems = []
    for row in listed():
        for name, operation in row.pages:
            if name not in names:
                problems.append(f"{row.endpoint}: no URL is named {name}")
            elif operation and operation not in operations.get(name, set()):
                problems.append(f"{row.endpoint}: {name} has no operation {operation}")
    assert not problems, "\n".join(problems)


def _subcommands(app: str, name: str) -> set[str] | None:
    """The OP choices of a command built on subparsers, or None for a plain one."""
    parser = load_command_class(app, name).create_parser("manage.py", name)
    for action in parser._actions:  # argparse keeps subparsers only here
        if getattr(action, "choices", None) and hasattr(action, "_name_parser_map"):
            return set(action.choices)
    return None


def test_every_command_exists():
    commands = get_commands()
    problems = []
    for row in listed():
        for line in row.commands:
            words = line.split()
            name = words[1]
            if name not in commands:
                problems.append(f"{row.endpoint}: there is no command {name}")
                continue
            ops = _subcommands(commands[name], name)
            if ops is not None and (len(words) < 3 or words[2] not in ops):
                problems.append(f"{row.endpoint}: `{line}`: {name} has no operation "
                                f"{words[2] if len(words) > 2 else '(none)'}")
    assert not problems, "\n".join(problems)


def _gaps() -> list[str]:
    return [f"{row.document[:3]} {row.endpoint}: no {' and no '.join(row.gaps)}"
            for row in listed() if row.gaps]


def test_every_endpoint_has_a_staff_page_and_a_command():
    gaps = _gaps()
    assert not gaps, f"{len(gaps)} endpoint(s) staff cannot fully reach:\n" + "\n".join(gaps)
