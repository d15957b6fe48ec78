#!/usr/bin/env python3
"""The README's commands, with nothing but Python 3.11 and pip.

    python3 dev.py run [ADDRESS]
                           virtualenv, install, migrate, demo data, serve on ADDRESS
                           (8001, 0.0.0.0:8001, 127.0.0.1:8002; default 127.0.0.1:8000)
                           with a Celery worker and beat (one command, stopped together)
    python3 dev.py test    virtualenv, install, run the test suite (extra args go to pytest)
    python3 dev.py lint    ruff + import-linter contracts + missing-migration check
    python3 dev.py bench   run the benchmarks in bench/ (they print figures)
    python3 dev.py tour    screenshots of the main screens into docs/tour/ (docs/tour.md)

The virtualenv lives in .venv and is re-installed only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("VENV_DIR", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def ensure_venv() -> None:
    if sys.version_info[:2] != (3, 11):
        print(f"warning: Python 3.11 is expected, this is {sys.version.split()[0]}",
              file=sys.stderr)
    if not PYTHON.exists():
        print(f"Creating virtualenv in {VENV} ...")
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        print("Installing dependencies ...")
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                       check=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"],
                       check=True)
        stamp.write_text(digest)


def manage(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], check=True, env=env)


DEFAULT_ADDRESS = "127.0.0.1:8000"
# Addresses that mean "every interface": a browser cannot open them, this machine can.
_ANY_INTERFACE = {"0", "0.0.0.0", "::", "[::]"}  # noqa: S104 (read, never bound)


def served_url(address: str = DEFAULT_ADDRESS) -> str:
    """The back-office URL a browser on this machine opens for runserver's ADDRESS, in
    the forms runserver takes: "8001" (port on 127.0.0.1), "HOST:PORT", "[IPv6]:PORT".
    Every-interface hosts print as localhost, which is where the person typing is.
    Raises ValueError naming the expected forms for anything else."""
    host, colon, port = address.rpartition(":")
    if not colon:
        host, port = "127.0.0.1", address
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{address!r} is not an address to serve on; give a port (8001) "
                         f"or HOST:PORT (0.0.0.0:8001, 127.0.0.1:8002).")
    if host in _ANY_INTERFACE:
        host = "localhost"
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not bare or not all(char.isascii() and (char.isalnum() or char in ".-:")
                           for char in bare):
        raise ValueError(f"{address!r} is not an address to serve on; give a port (8001) "
                         f"or HOST:PORT (0.0.0.0:8001, 127.0.0.1:8002).")
    if ":" in bare:
        host = f"[{bare}]"  # an IPv6 literal needs brackets in a URL
    return f"http://{host}:{int(port)}/admin/"


def run(args: list[str]) -> int:
    address = args[0] if args else DEFAULT_ADDRESS
    try:
        url = served_url(address)
    except ValueError as refusal:
        print(refusal, file=sys.stderr)
        return 2
    ensure_venv()
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
    manage("migrate", "--noinput", env=env)
    manage("demo", "--url", url, env=env)
    # Background work (following registrar processes, the nightly sync) runs in a
    # Celery worker with beat, on the filesystem broker under var/: no server needed.
    worker = subprocess.Popen(
        [BIN / "celery", "-A", "backoffice", "worker", "--beat", "--pool", "solo",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env)
    print(f"\nServing the back-office on {url} with a worker and beat "
          "(Ctrl+C stops them all)\n")
    try:
        return subprocess.call([PYTHON, str(ROOT / "manage.py"), "runserver", address],
                               env=env, cwd=ROOT)
    except KeyboardInterrupt:
        return 0
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


def test(args: list[str]) -> int:
    ensure_venv()
    return subprocess.call([BIN / "pytest", *args], cwd=ROOT)


def lint(args: list[str]) -> int:
    ensure_venv()
    env = {**os.environ, "DEBUG": "1"}
    status = subprocess.call([BIN / "ruff", "check", str(ROOT)])
    # The architecture's contracts (pyproject.toml [tool.importlinter]).
    status |= subprocess.call([BIN / "lint-imports"], cwd=ROOT)
    status |= subprocess.call(
        [PYTHON, str(ROOT / "manage.py"), "makemigrations", "--check", "--dry-run"], env=env
    )
    return status


def bench(args: list[str]) -> int:
    """Run every bench/*.py (or the ones named); they print figures, they never fail on time."""
    ensure_venv()
    scripts = [ROOT / "bench" / a for a in args] or sorted((ROOT / "bench").glob("bench_*.py"))
    status = 0
    for script in scripts:
        print(f"== {script.name}")
        status |= subprocess.call([PYTHON, str(script)], cwd=ROOT)
    return status


def tour(args: list[str]) -> int:
    """Screenshots of the main screens (docs/tour.md) into docs/tour/, from the demo data
    in a real Chromium against Django's live server (tests/browser/tour.py)."""
    ensure_venv()
    # Without Chromium the browser fixture would skip, and no screenshot would be made
    # while the command looked successful: require it instead.
    env = {**os.environ, "BACKOFFICE_REQUIRE_BROWSER": "1"}
    return subprocess.call([BIN / "pytest", "-q", "-p", "no:cacheprovider",
                            str(ROOT / "tests" / "browser" / "tour.py"), *args],
                           cwd=ROOT, env=env)


COMMANDS = {"run": run, "test": test, "lint": lint, "bench": bench, "tour": tour}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
