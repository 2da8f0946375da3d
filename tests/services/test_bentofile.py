"""The Bento's dependencies are the lock's, and its service is the one `butler serve` starts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_bento_pins_exactly_the_lock():
    bentofile = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    requirements = ROOT / bentofile["python"]["requirements_txt"]
    pins = {}
    for line in requirements.read_text().splitlines():
        found = _PIN.match(line.strip())
        if found:
            pins[_norm(found[1])] = found[2]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {_norm(p["name"]): p["version"] for p in lock["package"] if "version" in p}
    assert pins, "requirements.lock.txt pins nothing"
    drift = {n: (v, locked.get(n)) for n, v in pins.items() if locked.get(n) != v}
    assert not drift, f"requirements.lock.txt differs from uv.lock: {drift}; re-run the export"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = {_norm(re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    assert direct <= set(pins), f"not pinned for the Bento: {sorted(direct - set(pins))}"


def test_the_bento_serves_the_gateway():
    bentofile = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    assert bentofile["service"] == "services.http.gateway:Butler"
    from services.http.gateway import Butler

    assert Butler.name == "butler"
