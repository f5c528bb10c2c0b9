"""Bundled protocols (package data) and loading a protocol by id or path."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from eligo.compiler import compile_source
from eligo.errors import UsageError
from eligo.rules import Protocol
from eligo.source import Source


def bundled_ids() -> list[str]:
    folder = resources.files("eligo").joinpath("protocols")
    return sorted(p.name[: -len(".elig")] for p in folder.iterdir() if p.name.endswith(".elig"))


def protocol_source(ref: str | Path) -> Source:
    """The source of a protocol given as a file path or the id of a bundled protocol."""
    path = Path(ref)
    if path.suffix == ".elig" or path.exists():
        try:
            return Source(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise UsageError(f"cannot read protocol {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"cannot read protocol {path}: it is not UTF-8 text",
                             "save the file as UTF-8") from None
    bundled = resources.files("eligo").joinpath("protocols", f"{ref}.elig")
    if bundled.is_file():
        return Source(bundled.read_text(encoding="utf-8"), f"{ref}.elig")
    import difflib

    close = difflib.get_close_matches(str(ref), bundled_ids(), n=1)
    hint = f"did you mean `{close[0]}`?" if close else (
        "give a path to a .elig file or one of the bundled ids: " + ", ".join(bundled_ids()))
    raise UsageError(f"no protocol file or bundled protocol named `{ref}`", hint)


def load_protocol(ref: str | Path) -> Protocol:
    """Compile a protocol from a ``.elig`` path or a bundled id such as ``NCT01224327``."""
    return compile_source(protocol_source(ref))
