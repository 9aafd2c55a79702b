"""The study file: one TOML document describing a whole study, validated with key and line.

`load_study` reads and checks the file and returns a frozen `Study`. Tables that carry
options of a library call (``reader``, ``normalize``, ``align``, ``features``, the rest
of ``[[fit]]``, ``[echem.sync]``...) are forwarded as keyword arguments, so options the
library gains later work without a change here; only the keys the runner itself reads
are checked by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomllib

from speciate.errors import ValidationError

__all__ = ["Study", "StudyError", "load_study", "parse_study"]


class StudyError(ValidationError):
    """A study file breaks its schema; the message names the key and the line.

    Parameters
    ----------
    message
        What was expected and what was found.
    path
        The study file.
    key
        Dotted key, e.g. ``"fit[0].e_range"``.
    line
        1-based line in the study file, when it could be located.
    """

    def __init__(self, message: str, path: str | None, key: str, line: int | None) -> None:
        self.path, self.key, self.line = path, key, line
        where = path or "<study>"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: [{key}] {message}")


# keys the runner reads, per table; "*" marks tables whose other keys are forwarded
_KNOWN: dict[str, set[str]] = {
    "study": {"title", "output", "description"},
    "spectra": {
        "name",
        "files",
        "edge",
        "reader",
        "align",
        "normalize",
        "features",
        "state_of_charge",
        "soc_coord",
        "truth",
        "description",
    },
    "standards": {"name", "file", "reader", "valence", "spectra", "index", "normalize", "phase"},
    "theory": {
        "phases",
        "radii",
        "engine",
        "options",
        "precomputed",
        "broadening",
        "shift",
        "normalize",
        "absorber",
        "workers",
        "cache_dir",
        "description",
    },
    "echem": {
        "files",
        "reader",
        "mass_mg",
        "time_offset_s",
        "cycles",
        "dqdv",
        "sync",
        "description",
    },
    "eels": {
        "image",
        "low_loss",
        "synthetic",
        "references",
        "valences",
        "background",
        "fwhm",
        "regions",
        "mlls",
    },
    "report": {"title"},
}
_FIT_RUNNER_KEYS = {"spectra", "components", "scan", "combinations", "name"}


@dataclass(frozen=True)
class Study:
    """A validated study.

    Attributes
    ----------
    path
        The study file (None when parsed from text).
    root
        Folder relative paths are resolved against (the study file's folder).
    title, output
        Report title and output folder (absolute).
    spectra, standards, fits
        Tuples of tables (mappings), in file order.
    theory, echem, eels, report
        Tables, empty when absent.
    raw
        The whole parsed document.
    """

    path: Path | None
    root: Path
    title: str
    output: Path
    spectra: tuple[Mapping[str, Any], ...]
    standards: tuple[Mapping[str, Any], ...]
    fits: tuple[Mapping[str, Any], ...]
    theory: Mapping[str, Any] = field(default_factory=dict)
    echem: Mapping[str, Any] = field(default_factory=dict)
    eels: Mapping[str, Any] = field(default_factory=dict)
    report: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, value: str | Sequence[str]) -> Any:
        """Paths (or globs) relative to the study file's folder, as strings."""
        if isinstance(value, str):
            p = Path(value).expanduser()
            return str(p if p.is_absolute() else self.root / p)
        return [self.resolve(v) for v in value]

    def series_names(self) -> tuple[str, ...]:
        """Names of the spectra series, in file order."""
        return tuple(str(s["name"]) for s in self.spectra)


class _Locator:
    """Finds the line of a dotted key in TOML text (tables, arrays of tables, keys)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")

    def __init__(self, text: str) -> None:
        self.entries: list[tuple[str, int]] = []
        counts: dict[str, int] = {}
        table = ""
        for n, line in enumerate(text.splitlines(), start=1):
            head = self._HEADER.match(line)
            if head:
                name = head.group(2).replace('"', "").replace("'", "").replace(" ", "")
                if head.group(1) == "[[":
                    i = counts.get(name, 0)
                    counts[name] = i + 1
                    table = f"{name}[{i}]"
                else:
                    parent, _, leaf = name.rpartition(".")
                    base = parent.split(".")[0] if parent else ""
                    if parent and base in counts:
                        table = f"{parent}[{counts[base] - 1}].{leaf}"
                    else:
                        table = name
                self.entries.append((table, n))
                continue
            key = self._KEY.match(line)
            if key:
                name = key.group(1).strip("\"'")
                self.entries.append((f"{table}.{name}" if table else name, n))

    def line(self, key: str) -> int | None:
        probe = key
        while probe:
            for name, n in self.entries:
                if name == probe:
                    return n
            # "fit" as a single table is "fit", as an array "fit[0]"
            alt = re.sub(r"\[0\]", "", probe)
            for name, n in self.entries:
                if name == alt:
                    return n
            probe = probe.rpartition(".")[0] if "." in probe else ""
        return None


class _Checker:
    def __init__(self, path: str | None, text: str) -> None:
        self.path = path
        self.loc = _Locator(text)

    def fail(self, key: str, message: str) -> StudyError:
        return StudyError(message, self.path, key, self.loc.line(key))

    def table(self, doc: Mapping[str, Any], name: str) -> dict[str, Any]:
        value = doc.get(name, {})
        if not isinstance(value, Mapping):
            raise self.fail(name, f"expected a table; found {type(value).__name__}")
        return dict(value)

    def tables(self, doc: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
        value = doc.get(name, [])
        if isinstance(value, Mapping):
            return [dict(value)]
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(name, f"expected a table or an array of tables [[{name}]]")
        return [dict(v) for v in value]

    def unknown(self, key: str, table: Mapping[str, Any], known: set[str]) -> None:
        extra = sorted(set(table) - known)
        if extra:
            raise self.fail(
                f"{key}.{extra[0]}",
                f"unknown key {extra[0]!r}; expected one of: {', '.join(sorted(known))}",
            )

    def kind(self, key: str, value: Any, types: tuple[type, ...], what: str) -> None:
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            raise self.fail(key, f"expected {what}; found {value!r}")

    def numbers(self, key: str, value: Any, n: int | None = None) -> None:
        good = isinstance(value, list) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        )
        if not good or (n is not None and len(value) != n):
            size = f"{n} numbers" if n else "a list of numbers"
            raise self.fail(key, f"expected {size}; found {value!r}")

    def options(self, key: str, value: Any) -> None:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a table of options; found {value!r}")


def _paths(c: _Checker, key: str, value: Any) -> None:
    if isinstance(value, str) and value:
        return
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return
    raise c.fail(key, f"expected a file, a glob or a list of them; found {value!r}")


def _check_spectra(c: _Checker, items: list[dict[str, Any]]) -> None:
    if not items:
        raise c.fail("spectra", "a study needs at least one [[spectra]] table with files")
    seen: set[str] = set()
    for i, s in enumerate(items):
        key = f"spectra[{i}]"
        c.unknown(key, s, _KNOWN["spectra"])
        if "files" not in s:
            raise c.fail(key, "missing key 'files' (a file, a glob or a list of them)")
        _paths(c, f"{key}.files", s["files"])
        s.setdefault("name", f"series {i + 1}")
        c.kind(f"{key}.name", s["name"], (str,), "a name (text)")
        if s["name"] in seen:
            raise c.fail(f"{key}.name", f"duplicate series name {s['name']!r}")
        seen.add(s["name"])
        for opt in ("reader", "normalize", "features", "truth"):
            if opt in s:
                c.options(f"{key}.{opt}", s[opt])
        if "align" in s and not isinstance(s["align"], (bool, Mapping)):
            raise c.fail(f"{key}.align", f"expected true/false or a table; found {s['align']!r}")
        if "edge" in s:
            c.kind(f"{key}.edge", s["edge"], (str,), "an edge such as 'Mn K'")
        soc = s.get("state_of_charge", "echem")
        if soc not in ("echem", "none") and not isinstance(soc, str):
            raise c.fail(
                f"{key}.state_of_charge", f"expected 'echem', 'none' or a coord name; found {soc!r}"
            )


def _check_standards(c: _Checker, items: list[dict[str, Any]], series: set[str]) -> None:
    names: set[str] = set()
    for i, s in enumerate(items):
        key = f"standards[{i}]"
        c.unknown(key, s, _KNOWN["standards"])
        if "name" not in s:
            raise c.fail(key, "missing key 'name'")
        if ("file" in s) == ("spectra" in s):
            raise c.fail(
                key, "give exactly one of 'file' (a spectrum file) or 'spectra' (a series name)"
            )
        if "file" in s:
            c.kind(f"{key}.file", s["file"], (str,), "a file name")
        else:
            if s["spectra"] not in series:
                raise c.fail(
                    f"{key}.spectra", f"no series named {s['spectra']!r}; known: {sorted(series)}"
                )
            c.kind(f"{key}.index", s.get("index", 0), (int,), "a spectrum index (integer)")
        if "valence" in s:
            c.kind(f"{key}.valence", s["valence"], (int, float), "a number")
        if s["name"] in names:
            raise c.fail(f"{key}.name", f"duplicate standard name {s['name']!r}")
        names.add(s["name"])


def _check_theory(c: _Checker, t: dict[str, Any]) -> None:
    if not t:
        return
    c.unknown("theory", t, _KNOWN["theory"])
    if "precomputed" not in t and "phases" not in t:
        raise c.fail("theory", "give 'phases' and 'radii' (to compute) or 'precomputed' (a file)")
    if "phases" in t and not (
        isinstance(t["phases"], list) and all(isinstance(p, str) for p in t["phases"])
    ):
        raise c.fail("theory.phases", f"expected a list of phase names; found {t['phases']!r}")
    if "radii" in t:
        c.numbers("theory.radii", t["radii"])
    if t.get("engine", "feff") not in ("feff", "fdmnes"):
        raise c.fail("theory.engine", f"expected 'feff' or 'fdmnes'; found {t['engine']!r}")
    for opt in ("options", "broadening", "normalize"):
        if opt in t:
            c.options(f"theory.{opt}", t[opt])
    if "shift" in t:
        c.kind("theory.shift", t["shift"], (int, float), "an energy shift in eV")


def _check_fits(
    c: _Checker, items: list[dict[str, Any]], series: list[str], stds: set[str], has_theory: bool
) -> None:
    for i, f in enumerate(items):
        key = f"fit[{i}]"
        f.setdefault("spectra", series[0])
        if f["spectra"] not in series:
            raise c.fail(f"{key}.spectra", f"no series named {f['spectra']!r}; known: {series}")
        comps = f.get("components", [])
        if not isinstance(comps, list) or not all(isinstance(x, str) for x in comps):
            raise c.fail(f"{key}.components", f"expected a list of standard names; found {comps!r}")
        for name in comps:
            if name not in stds:
                raise c.fail(
                    f"{key}.components", f"no standard named {name!r}; known: {sorted(stds)}"
                )
        scan = f.get("scan")
        if scan is not None:
            c.options(f"{key}.scan", scan)
            if not has_theory:
                raise c.fail(f"{key}.scan", "a radius scan needs a [theory] table")
        if not comps and scan is None:
            raise c.fail(key, "give 'components' (standards) and/or a 'scan' table")
        if "combinations" in f and not isinstance(f["combinations"], (bool, Mapping)):
            raise c.fail(f"{key}.combinations", "expected true/false or a table of options")
        if "e_range" in f:
            c.numbers(f"{key}.e_range", f["e_range"], 2)


def _check_echem(c: _Checker, e: dict[str, Any]) -> None:
    if not e:
        return
    c.unknown("echem", e, _KNOWN["echem"])
    if "files" not in e:
        raise c.fail("echem", "missing key 'files' (cycler files)")
    _paths(c, "echem.files", e["files"])
    for num in ("mass_mg", "time_offset_s"):
        if num in e:
            c.kind(f"echem.{num}", e[num], (int, float), "a number")
    if "cycles" in e and not (
        isinstance(e["cycles"], list) and all(isinstance(x, int) for x in e["cycles"])
    ):
        raise c.fail("echem.cycles", f"expected a list of cycle numbers; found {e['cycles']!r}")
    for opt in ("reader", "dqdv", "sync"):
        if opt in e:
            c.options(f"echem.{opt}", e[opt])


def _check_eels(c: _Checker, e: dict[str, Any]) -> None:
    if not e:
        return
    c.unknown("eels", e, _KNOWN["eels"])
    if ("image" in e) == ("synthetic" in e):
        raise c.fail("eels", "give exactly one of 'image' (a spectrum-image file) or 'synthetic'")
    if "background" in e:
        c.numbers("eels.background", e["background"], 2)


def parse_study(text: str, path: str | Path | None = None) -> Study:
    """Validate study TOML text; relative paths resolve against ``path``'s folder.

    Raises
    ------
    StudyError
        On a TOML syntax error or a key that breaks the schema (key and line named).
    """
    spath = None if path is None else str(path)
    c = _Checker(spath, text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise StudyError(
            f"not valid TOML: {exc}", spath, "toml", int(match.group(1)) if match else None
        ) from None
    top = {"study", "spectra", "standards", "theory", "fit", "echem", "eels", "report"}
    extra = sorted(set(doc) - top)
    if extra:
        raise c.fail(
            extra[0], f"unknown table {extra[0]!r}; expected one of: {', '.join(sorted(top))}"
        )
    study = c.table(doc, "study")
    c.unknown("study", study, _KNOWN["study"])
    spectra = c.tables(doc, "spectra")
    _check_spectra(c, spectra)
    names = [s["name"] for s in spectra]
    standards = c.tables(doc, "standards")
    _check_standards(c, standards, set(names))
    theory = c.table(doc, "theory")
    _check_theory(c, theory)
    fits = c.tables(doc, "fit")
    _check_fits(c, fits, names, {s["name"] for s in standards}, bool(theory))
    echem = c.table(doc, "echem")
    _check_echem(c, echem)
    eels = c.table(doc, "eels")
    _check_eels(c, eels)
    report = c.table(doc, "report")
    c.unknown("report", report, _KNOWN["report"])
    root = Path(path).resolve().parent if path is not None else Path.cwd()
    out = Path(str(study.get("output", "study-output"))).expanduser()
    freeze = MappingProxyType
    return Study(
        path=None if path is None else Path(path).resolve(),
        root=root,
        title=str(study.get("title", "speciate study")),
        output=out if out.is_absolute() else root / out,
        spectra=tuple(freeze(s) for s in spectra),
        standards=tuple(freeze(s) for s in standards),
        fits=tuple(freeze(f) for f in fits),
        theory=freeze(theory),
        echem=freeze(echem),
        eels=freeze(eels),
        report=freeze(report),
        raw=freeze(doc),
    )


def load_study(path: str | Path) -> Study:
    """Read and validate a study file (see `parse_study`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyError(
            f"cannot read the study file: {exc.strerror}", str(p), "study", None
        ) from None
    return parse_study(text, p)
