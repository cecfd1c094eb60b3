"""Ground truth read from report text: the readers against labelled report corpora.

For every corpus x split x language x target (``benchmarks/corpora.py``: the unit
sentences of the tests, the self-written whole reports, and, from ``--corpora``, the
real Open-i/NegBio and PARROT reports) and every reader, one row:

- ``n``: reports labelled for the target; ``pos``: gold positive; ``neg``: gold
  negative or absent (the report does not state a current target); ``unc``: gold
  uncertain;
- ``sens``: reports read positive / gold positive;
- ``fpr``: reports read positive / gold negative-or-absent (gold uncertain left out);
- ``decided``: share of the ``n`` reports the reader calls positive or negative.

Readers: ``rules`` (``connectors.report_text.extract_outcome``) and the library variants
of ``benchmarks/report_variants.py`` (``VARIANTS``) whose packages are installed, each on
the languages it declares. Then the corpora (sizes, positives, licences), the reading
speed of each reader on one core (all its reports, median of ``--repeat`` passes) and,
with ``--errors NAME``, the misread reports of that corpus: dev and unit splits only,
test splits too only with ``--show-test-errors`` (test splits are never for tuning).

    .venv/bin/python benchmarks/report_text.py [--corpora /work/corpora] [--repeat 3]
        [--errors openi-negbio] [--show-test-errors]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

# One core for the libraries' thread pools too (set before any of them is imported).
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TORCH_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.report_text import extract_outcome  # noqa: E402
from monitor.tables import render_table  # noqa: E402

__all__ = ["Reader", "read_outcome", "readers", "score"]

Reader = Callable[[str, str], "str | None"]
NOT_POSITIVE = ("negative", "absent")


def _load_by_path(name: str) -> ModuleType:
    # By path, not by package name: pysbd (a medspaCy dependency) installs a top-level
    # package called ``benchmarks`` that would shadow this folder.
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


corpora = _load_by_path("corpora")


def read_outcome(text: str, target: str) -> str | None:
    """The rules' reading: positive / negative / indeterminate / None."""
    return extract_outcome(text, target).outcome


def readers() -> tuple[list[tuple[str, tuple[str, ...], Reader]], list[str]]:
    """(name, languages, read) of every reader that can run here, and notes on the others."""
    found: list[tuple[str, tuple[str, ...], Reader]] = [("rules", ("fr", "en"), read_outcome)]
    notes: list[str] = []
    if not (ROOT / "benchmarks" / "report_variants.py").exists():
        return found, ["library variants: benchmarks/report_variants.py not present"]
    try:
        variants = _load_by_path("report_variants")
    except Exception as error:  # a missing package or a broken import: run without them
        return found, [f"library variants skipped: report_variants failed to import ({error!r})"]
    available = getattr(variants, "VARIANTS", {})
    for name, variant in available.items():
        found.append((name, tuple(variant.languages), variant.read))
    for name, package in (("edsnlp", "edsnlp"), ("medspacy", "medspacy")):
        if name not in available:
            notes.append(f"variant {name} skipped: package {package} not importable")
    return found, notes


def score(reader: Reader, corpus: Any, target: str) -> dict[str, Any]:
    """Sensitivity, false-positive rate and decided share of `reader` on `corpus` for `target`.

    `corpus` is a ``benchmarks.corpora.Corpus``; only its items labelled for `target` count.
    Rates are None when their denominator is 0.
    """
    gold_pos = gold_neg = gold_unc = read_pos_on_pos = read_pos_on_neg = decided = n = 0
    for item in corpus.items:
        gold = item.labels.get(target)
        if gold is None:
            continue
        n += 1
        read = reader(item.text, target)
        if read in ("positive", "negative"):
            decided += 1
        if gold == "positive":
            gold_pos += 1
            read_pos_on_pos += read == "positive"
        elif gold in NOT_POSITIVE:
            gold_neg += 1
            read_pos_on_neg += read == "positive"
        else:
            gold_unc += 1
    return {
        "n": n,
        "pos": gold_pos,
        "neg": gold_neg,
        "unc": gold_unc,
        "tp": read_pos_on_pos,
        "fp": read_pos_on_neg,
        "sens": _ratio(read_pos_on_pos, gold_pos),
        "fpr": _ratio(read_pos_on_neg, gold_neg),
        "decided": _ratio(decided, n),
    }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def _targets(corpus: Any) -> list[str]:
    present = {t for item in corpus.items for t in item.labels}
    return [t for t in corpora.TARGETS if t in present]


def _score_rows(
    loaded: Sequence[Any], found: Sequence[tuple[str, tuple[str, ...], Reader]]
) -> list[dict[str, Any]]:
    rows = []
    for corpus in loaded:
        for target in _targets(corpus):
            for name, languages, read in found:
                if corpus.language not in languages:
                    continue
                result = score(read, corpus, target)
                rows.append(
                    {
                        "corpus": corpus.name,
                        "split": corpus.split,
                        "lang": corpus.language,
                        "target": target,
                        "reader": name,
                        **{k: result[k] for k in ("n", "pos", "neg", "unc", "tp", "fp")},
                        "sens": result["sens"],
                        "fpr": result["fpr"],
                        "decided": result["decided"],
                    }
                )
    return rows


def _corpus_rows(loaded: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for corpus in loaded:
        row: dict[str, Any] = {
            "corpus": corpus.name,
            "split": corpus.split,
            "lang": corpus.language,
            "reports": len(corpus.items),
        }
        for target in corpora.TARGETS:
            labelled = [i for i in corpus.items if target in i.labels]
            row[f"{target} pos/labelled"] = (
                f"{sum(i.labels[target] == 'positive' for i in labelled)}/{len(labelled)}"
                if labelled
                else "-"
            )
        row["licence"] = corpus.licence
        rows.append(row)
    return rows


def _speed_rows(
    loaded: Sequence[Any], found: Sequence[tuple[str, tuple[str, ...], Reader]], repeat: int
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for corpus in loaded:  # a corpus's splits together: the whole corpus
        cases = groups.setdefault((corpus.name, corpus.language), [])
        cases.extend((item.text, target) for item in corpus.items for target in item.labels)
    rows = []
    for name, languages, read in found:
        for (corpus_name, language), cases in groups.items():
            if language not in languages or not cases:
                continue
            for text, target in cases[:20]:  # warm-up: lazy compilation, model loading
                read(text, target)
            timings = []
            for _ in range(max(1, repeat)):
                started = time.perf_counter()
                for text, target in cases:
                    read(text, target)
                timings.append(time.perf_counter() - started)
            median = statistics.median(timings)
            rows.append(
                {
                    "reader": name,
                    "corpus": corpus_name,
                    "lang": language,
                    "reads": len(cases),
                    "mean chars": round(sum(len(t) for t, _ in cases) / len(cases)),
                    "median s": round(median, 3),
                    "reports/s": round(len(cases) / median) if median else None,
                }
            )
    return rows


def _errors(
    loaded: Sequence[Any],
    found: Sequence[tuple[str, tuple[str, ...], Reader]],
    name: str,
    show_test: bool,
) -> None:
    chosen = [c for c in loaded if c.name == name]
    if not chosen:
        print(f"\n--errors {name}: no such corpus loaded ({sorted({c.name for c in loaded})})")
        return
    for corpus in chosen:
        if corpus.split == "test" and not show_test:
            print(
                f"\nerrors of {corpus.name} {corpus.split} ({corpus.language}): not shown, "
                "test split (--show-test-errors to show them; never tune on them)"
            )
            continue
        for reader_name, languages, read in found:
            if corpus.language not in languages:
                continue
            wrong = []
            for item in corpus.items:
                for target, gold in item.labels.items():
                    got = read(item.text, target)
                    if gold == "positive" and got != "positive":
                        wrong.append(("missed", target, gold, got, item))
                    elif gold in NOT_POSITIVE and got == "positive":
                        wrong.append(("false positive", target, gold, got, item))
            print(
                f"\nerrors of {reader_name} on {corpus.name} {corpus.split} "
                f"({corpus.language}): {len(wrong)}"
            )
            for kind, target, gold, got, item in wrong:
                text = " | ".join(line.strip() for line in item.text.splitlines() if line.strip())
                print(f"  {item.id} [{target}] {kind}: gold {gold}, read {got} <- {text[:600]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=None, help="folder of outside corpora")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes for the speed")
    parser.add_argument("--errors", metavar="NAME", default=None, help="list a corpus's misreads")
    parser.add_argument("--show-test-errors", action="store_true", help="with --errors: test too")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):  # one core, for the speed figures
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    loaded = corpora.load_corpora(args.corpora)
    found, notes = readers()
    for note in [*notes, *corpora.missing_corpora(args.corpora)]:
        print(f"note: {note}")

    print(
        "\nreaders against gold labels (sens = read positive / gold positive; "
        "fpr = read positive / gold negative or absent)"
    )
    columns = ["corpus", "split", "lang", "target", "reader", "n", "pos", "neg", "unc", "tp", "fp"]
    print(render_table(_score_rows(loaded, found), [*columns, "sens", "fpr", "decided"]))

    print("\ncorpora")
    corpus_rows = _corpus_rows(loaded)
    print(render_table(corpus_rows, list(corpus_rows[0]) if corpus_rows else []))
    seen = set()
    for corpus in loaded:
        if (corpus.name, corpus.origin) not in seen:
            seen.add((corpus.name, corpus.origin))
            print(f"  {corpus.name} {corpus.split}: {corpus.origin}. {corpus.notes}")

    print(
        f"\nspeed on one core (reads = reports x labelled targets of the whole corpus, median of "
        f"{max(1, args.repeat)})"
    )
    speed = _speed_rows(loaded, found, args.repeat)
    print(render_table(speed, list(speed[0]) if speed else []))

    if args.errors:
        _errors(loaded, found, args.errors, args.show_test_errors)


if __name__ == "__main__":
    main()
