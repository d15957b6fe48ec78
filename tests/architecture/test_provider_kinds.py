"""The core never branches on which upstream it talks to: it asks the provider's
capabilities. This walks the source outside registrar/providers/ and fails on any
comparison with, or lookup by, a provider kind (import-linter holds the layering; this
holds what import-linter cannot see)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from registrar.providers.registry import ADAPTERS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("backoffice", "billing", "contacts", "registrar")
# Where reading an account's kind is the job: the registry's own queryset helper (it
# turns a capability into kinds), and the demo, which configures the sandbox account.
ALLOWED = {
    Path("registrar/models.py"),
    Path("backoffice/demo.py"),
}
KINDS = frozenset(ADAPTERS)


def _sources() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if (relative.parts[:2] == ("registrar", "providers") or "migrations" in relative.parts
                    or relative in ALLOWED):
                continue
            files.append(relative)
    return files


def _is_account_kind(node: ast.AST) -> bool:
    """`account.kind`, `provider_account.kind`, `order.provider_account.kind`, ..."""
    if not (isinstance(node, ast.Attribute) and node.attr == "kind"):
        return False
    owner = node.value
    name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
    return "account" in name or "provider" in name


def _is_kind_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in KINDS


def _branches_on(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
    """An account's kind used to decide something: compared, or looked up by (as a
    subscript, a dict key, or inside the key of a `.get()`)."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.Tuple):
        node, parent = parent, parents.get(id(parent))
    if isinstance(parent, ast.Compare):
        return True
    if isinstance(parent, ast.Subscript) and parent.slice is node:
        return True
    if isinstance(parent, ast.Dict) and node in parent.keys:
        return True
    return (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute)
            and parent.func.attr == "get" and parent.args[:1] == [node])


class _Finder(ast.NodeVisitor):
    def __init__(self, tree: ast.AST) -> None:
        self.found: list[tuple[int, str]] = []
        self.parents = {id(child): parent for parent in ast.walk(tree)
                        for child in ast.iter_child_nodes(parent)}

    def visit_Call(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            key = keyword.arg or ""
            if "provider_account__kind" in key or key.endswith("kind__in"):
                self.found.append((node.lineno, f"filters by a provider kind ({key}=)"))
            elif key == "kind" and _is_kind_constant(keyword.value):
                self.found.append((node.lineno, f"kind={keyword.value.value!r}"))
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for operand in (node.left, *node.comparators):
            if _is_kind_constant(operand):
                self.found.append((node.lineno, f"compares with the kind {operand.value!r}"))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _is_account_kind(node) and _branches_on(node, self.parents):
            self.found.append((node.lineno, "branches on a provider account's kind"))
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "ProviderKind":
            self.found.append((node.lineno, "names ProviderKind"))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if any(alias.name == "ProviderKind" for alias in node.names):
            self.found.append((node.lineno, "imports ProviderKind"))

    def visit_Dict(self, node: ast.Dict) -> None:
        for key in node.keys:
            if key is not None and (_is_kind_constant(key) or (
                    isinstance(key, ast.Tuple) and any(_is_kind_constant(e) for e in key.elts))):
                self.found.append((node.lineno, "a table keyed by provider kind"))
        self.generic_visit(node)


def _found(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    finder = _Finder(tree)
    finder.visit(tree)
    return finder.found


@pytest.mark.parametrize("path", _sources(), ids=str)
def test_no_branching_on_a_provider_kind(path):
    found = _found((ROOT / path).read_text())
    assert not found, "\n".join(f"{path}:{line}: {what}" for line, what in found)


def test_the_finder_catches_what_it_is_for():
    """A sample of what the core used to do, each caught."""
    samples = [
        "if account.kind == 'entri': pass",
        "x = account.kind in KINDS",
        "ProviderAccount.objects.filter(kind__in=KINDS)",
        "Order.objects.filter(provider_account__kind='saleshandy')",
        "HANDLERS = {('domainee', 'x'): f}",
        "from registrar.models import ProviderKind",
        "HANDLERS.get((account.kind, event_type))",
        "ACTIONS[provider_account.kind]",
    ]
    for source in samples:
        assert _found(source), source
    assert _found("adapter_class(account.kind)\nOrder.objects.filter(kind=k)\n"
                  "order.kind == OrderKind.RENEWAL\nreport = Report(kind=account.kind)") == []
