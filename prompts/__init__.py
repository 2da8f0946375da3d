"""The butler agent's prompts, versioned as files: ``<name>.v<N>.<md|yaml>``.

One file per purpose: the LLM's system prompt, the tools' descriptions, the offline
planner's answer templates. A change of wording is a new version file, so a logged answer can
always name the prompt versions that produced it. Nothing is read at import time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

_FILE = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<version>\d+)\.(?P<ext>md|yaml)$")


class PromptNotFoundError(LookupError):
    """No prompt file of that name (and version) ships with Butler."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """One prompt file: its name, version and text (YAML files also parsed)."""

    name: str
    version: int
    text: str

    @property
    def id(self) -> str:
        """``name@vN``, as logged with every answer."""
        return f"{self.name}@v{self.version}"

    def data(self) -> Any:
        """The parsed YAML of a ``.yaml`` prompt."""
        return yaml.safe_load(self.text)


def available() -> dict[str, list[int]]:
    """Every prompt name and its versions, oldest first."""
    out: dict[str, list[int]] = {}
    for entry in resources.files(__name__).iterdir():
        found = _FILE.match(entry.name)
        if found:
            out.setdefault(found["name"], []).append(int(found["version"]))
    return {name: sorted(versions) for name, versions in sorted(out.items())}


@cache
def load(name: str, version: int | None = None) -> Prompt:
    """The prompt ``name`` at ``version`` (None = the newest).

    Raises:
        PromptNotFoundError: no such prompt or version; the message lists what exists.
    """
    versions = available().get(name)
    if not versions or (version is not None and version not in versions):
        raise PromptNotFoundError(
            f"No prompt {name!r}"
            + (f" version {version}" if version else "")
            + ". Available: "
            + ", ".join(f"{n} v{vs}" for n, vs in available().items())
        )
    chosen = version or versions[-1]
    for entry in resources.files(__name__).iterdir():
        found = _FILE.match(entry.name)
        if found and found["name"] == name and int(found["version"]) == chosen:
            return Prompt(name=name, version=chosen, text=entry.read_text(encoding="utf-8"))
    raise AssertionError("unreachable")
