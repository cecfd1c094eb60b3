"""Agreement of the rule-based report reader with the labelled corpus of the tests.

For each language x target x expected outcome of ``tests/connectors/report_corpus.py``
(``none`` = the report does not speak of the target), one row: number of items,
how many ``connectors.report_text.extract_outcome`` gets right, and the accuracy;
then the overall figure, the reading speed (reports per second, median of
``--repeat`` passes over the corpus) and every error with what was read.

    .venv/bin/python benchmarks/report_text.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.report_text import extract_outcome  # noqa: E402
from monitor.tables import render_table  # noqa: E402
from tests.connectors.report_corpus import CORPUS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the corpus")
    args = parser.parse_args()

    results = [(item, extract_outcome(item.text, item.target)) for item in CORPUS]
    cells: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    for item, result in results:
        key = (item.language, item.target, item.expected or "none")
        cells[key].append(result.outcome == item.expected)
    rows = [
        {
            "language": language,
            "target": target,
            "expected": expected,
            "n": len(hits),
            "correct": sum(hits),
            "accuracy": round(sum(hits) / len(hits), 3),
        }
        for (language, target, expected), hits in sorted(cells.items())
    ]
    correct = sum(result.outcome == item.expected for item, result in results)
    rows.append(
        {
            "language": "all",
            "target": "all",
            "expected": "all",
            "n": len(results),
            "correct": correct,
            "accuracy": round(correct / len(results), 3),
        }
    )
    print(render_table(rows, ["language", "target", "expected", "n", "correct", "accuracy"]))

    timings = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        for item in CORPUS:
            extract_outcome(item.text, item.target)
        timings.append(time.perf_counter() - started)
    print(f"\nspeed: {len(CORPUS) / statistics.median(timings):,.0f} reports/s (median)")

    errors = [(item, result) for item, result in results if result.outcome != item.expected]
    print(f"\nerrors: {len(errors)}")
    for item, result in errors:
        read = result.evidence.text if result.evidence else "-"
        print(
            f"  {item.id}: expected {item.expected}, got {result.outcome} "
            f"({result.method}, {result.section}, read {read!r}) <- {item.text!r}"
        )


if __name__ == "__main__":
    main()
