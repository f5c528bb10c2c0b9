"""How much of the criteria corpus the protocol language encodes faithfully.

    python benchmarks/criteria_coverage.py [--corpus DIR] [--target 85]

Reads the YAML files of tests/criteria_corpus/ (real ClinicalTrials.gov criteria with their
encodings; the fields are described in tests/criteria_corpus/README.md) and prints:

- the number of trials and criteria, by area and by kind (inclusion / exclusion);
- the share of criteria that patient records can decide (decidable `yes` or `partly`),
  overall and by kind;
- of those decidable criteria, the share encoded `faithful` and `approximate`, overall and
  by kind;
- the constructs the approximate encodings lack (the `missing` labels), with the number of
  criteria that name each.

It then judges the target: at least 85 % of the decidable criteria encoded faithfully.
Prints PASS or FAIL and exits 1 on FAIL. Only the YAML is read: no eligo code runs (the
encodings are compiled by tests/test_criteria_corpus.py).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "criteria_corpus"
TARGET_PERCENT = 85.0
KINDS = ("inclusion", "exclusion")


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: `decidable: yes` / `no` stay strings (YAML 1.1 reads them as bools)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_corpus(corpus: Path) -> list[dict[str, Any]]:
    trials = []
    for path in sorted(corpus.glob("NCT*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        if not isinstance(data, dict) or not isinstance(data.get("criteria"), list):
            raise SystemExit(f"{path}: not a corpus file (a mapping with a `criteria` list)")
        trials.append(data)
    if not trials:
        raise SystemExit(f"no NCT*.yaml files in {corpus}")
    return trials


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f} %" if whole else "    - "


def _share(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _decidable(c: dict[str, Any]) -> bool:
    return c.get("decidable") in ("yes", "partly")


def _rows(criteria: list[dict[str, Any]]) -> Iterable[tuple[str, list[dict[str, Any]]]]:
    yield "all", criteria
    for kind in KINDS:
        yield kind, [c for c in criteria if c.get("kind") == kind]


def report(trials: list[dict[str, Any]], target: float) -> bool:
    criteria = [c for t in trials for c in t["criteria"]]
    kinds = Counter(c.get("kind") for c in criteria)
    areas = Counter(str(t.get("area")) for t in trials)
    area_criteria = Counter(str(t.get("area")) for t in trials for _ in t["criteria"])

    print(f"criteria corpus: {len(trials)} trials, {len(criteria)} criteria "
          f"({kinds['inclusion']} inclusion, {kinds['exclusion']} exclusion)")
    print("\nby area                    trials  criteria")
    for area, n in sorted(areas.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {area:24} {n:6}  {area_criteria[area]:8}")

    print("\ndecidable from patient records (yes + partly)")
    print("  criteria     n   yes  partly   no   decidable")
    for name, rows in _rows(criteria):
        d = Counter(c.get("decidable") for c in rows)
        print(f"  {name:9} {len(rows):4}  {d['yes']:4}  {d['partly']:6}  {d['no']:3}   "
              f"{_pct(d['yes'] + d['partly'], len(rows))}")

    print("\nfidelity of the decidable criteria")
    print("  criteria  decidable  faithful            approximate")
    faithful_share = 0.0
    for name, rows in _rows(criteria):
        dec = [c for c in rows if _decidable(c)]
        f = sum(c.get("fidelity") == "faithful" for c in dec)
        a = sum(c.get("fidelity") == "approximate" for c in dec)
        if name == "all":
            faithful_share = _share(f, len(dec))
        print(f"  {name:9} {len(dec):9}  {f:4} ({_pct(f, len(dec))})    "
              f"{a:4} ({_pct(a, len(dec))})")

    approximate = [c for c in criteria if _decidable(c) and c.get("fidelity") == "approximate"]
    labels = Counter(label for c in approximate for label in c.get("missing") or [])
    unlabelled = sum(not c.get("missing") for c in approximate)
    print(f"\nmissing constructs (number of criteria naming each) of the {len(approximate)} "
          f"approximate criteria; {unlabelled} name none (the loss is the text's vagueness or "
          "the codes available: see their notes)")
    for label, n in sorted(labels.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:4}  {label}")
    observations = sum(any(x.startswith("observation:") for x in c.get("missing") or [])
                       for c in approximate)
    print(f"  ({observations} criteria need an observation the library lacks: observation:*)")

    ok = faithful_share >= target
    print(f"\ntarget: >= {target:.0f} % of decidable criteria encoded faithfully; "
          f"measured {faithful_share:.1f} %: {'PASS' if ok else 'FAIL'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help="directory of NCT*.yaml files (default: tests/criteria_corpus)")
    parser.add_argument("--target", type=float, default=TARGET_PERCENT,
                        help="percent of decidable criteria to be encoded faithfully (85)")
    args = parser.parse_args(argv)
    return 0 if report(load_corpus(args.corpus), args.target) else 1


if __name__ == "__main__":
    sys.exit(main())
