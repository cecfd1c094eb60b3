"""Library-based readers of radiology report text, benchmarked against the rules.

Two readers built from the field's clinical NLP libraries, rule components
only (blank spaCy pipelines, no model download), fed with the project's own
vocabularies (``connectors/vocabularies/<target>.yaml``, read with
:func:`connectors.report_text.load_vocabulary`):

- ``edsnlp`` (French, AP-HP): ``eds.normalizer``, ``eds.sentences``,
  ``eds.matcher`` (the target's ``terms``, plus ``excluded``, ``other_site`` and
  ``device`` entries under their own labels), ``eds.sections`` and the qualifiers
  ``eds.negation``, ``eds.hypothesis``, ``eds.history`` (with sections),
  ``eds.family``, ``eds.reported_speech``, all with their default patterns.
- ``medspacy`` (English): medspaCy's tokenizer, PyRuSH sentence splitter,
  ``TargetMatcher`` (same vocabularies, plus ``mass`` for ``lung_nodule``),
  ``ConText`` with its default English rules (negated, possible, hypothetical,
  historical, family) and the ``Sectionizer`` with its default English rules.

Both decide the same way. A mention is dropped when it is an ``excluded``
phrase, when an ``other_site`` word (thyroid, liver...) starts within 3 tokens
before or 6 after it in its sentence (a ``device`` word: 2 before, 3 after),
when a qualifier says history, family or reported speech, or when it lies in an
indication or history section. Then: positive if any remaining mention is
neither negated nor hypothetical; else indeterminate if any is hypothetical
(hypothesis wins over negation on one mention); else negative if any is
negated; else None.

Section titles: the libraries' default titles come from hospital summaries
(edsnlp) and clinical notes (medspaCy), and miss the radiology ones
(``Indication :``, ``Renseignements cliniques``; medspaCy files ``INDICATION:``
under labs_and_studies). With ``radiology_sections`` (the default) a few
radiology titles are added through the components' own rule parameters.

Ablations printed beside each variant (:data:`ABLATIONS`): the library's own
section titles only; ``conclusion_first`` (only the conclusion/impression
mentions when it has any, as the rules do); ``project_cues`` (the vocabulary's
cue lists added to the qualifiers' patterns, its ``normal`` statements as
negative evidence: the library's engine with the rules' words); for medspaCy,
spaCy's ``sentencizer`` instead of PyRuSH (timed too).

Only the variants whose library imports are in :data:`VARIANTS`; pipelines are
built lazily, once per target. edsnlp (spaCy >= 3.8.7) and medspaCy 1.3
(spaCy < 3.8, hence numpy < 2) cannot share one environment: run this script
once in each (extras ``nlp-bench`` and ``nlp-bench-en``, see benchmarks/README.md).
The rules (``connectors.report_text``) are read in the same run, and as
committed at any ``--rules-ref``.

    taskset -c 0 .venv/bin/python benchmarks/report_variants.py [--rules-ref REF]
        [--corpora /work/corpora] [--errors READER] [--json FILE] [--no-ablations]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import logging
import statistics
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.report_text import extract_outcome, load_vocabulary  # noqa: E402
from connectors.text_folding import fold_text  # noqa: E402
from monitor.tables import render_table  # noqa: E402

__all__ = ["VARIANTS", "Variant", "make_edsnlp_reader", "make_medspacy_reader"]

Reader = Callable[[str, str], "str | None"]


@dataclass(frozen=True)
class Variant:
    """A report reader: ``read(text, target)`` -> positive/negative/indeterminate/None."""

    name: str
    languages: tuple[str, ...]
    read: Callable[[str, str], str | None]


# ------------------------------------------------------------------ shared

# An other-organ word (thyroid, liver...) drops a target mention when it starts within
# these many tokens before or after it in its sentence; a device word (wire, lead,
# catheter: the fracture of a device) within a tighter window.
OTHER_SITE_WINDOW = (3, 6)
DEVICE_WINDOW = (2, 3)


def _variants_of(entry: str) -> set[str]:
    """A vocabulary phrase, its plural and its hyphen/space spellings (the YAML's own rules)."""
    if entry.startswith("re:"):
        return set()
    base = fold_text(entry)[0].strip()
    out: set[str] = set()
    for spelled in {base, base.replace("-", " ")}:
        words = spelled.split()

        def plural(word: str) -> str:
            if len(word) <= 2 or not word[-1].isalpha() or word.endswith(("s", "x")):
                return word
            if word.endswith("al"):
                return word[:-2] + "aux"
            if word.endswith("y") and word[-2:-1] not in "aeiou":
                return word[:-1] + "ies"
            return word + "s"

        out.add(spelled)
        out.add(" ".join(plural(w) for w in words))
        out.add(" ".join([plural(words[0]), *words[1:]]))
        out.add(" ".join([*words[:-1], plural(words[-1])]))
    return out


def _phrases(entries: Iterable[str]) -> list[str]:
    return sorted({variant for entry in entries for variant in _variants_of(entry)})


def _decide(statuses: Sequence[str]) -> str | None:
    if "affirmed" in statuses:
        return "positive"
    if "hypothesis" in statuses:
        return "indeterminate"
    if "negated" in statuses or "normal" in statuses:
        return "negative"
    return None


def _near(ent: Any, others: Sequence[Any], window: tuple[int, int]) -> bool:
    """Whether one of ``others`` starts in ``ent``'s sentence within ``window`` tokens of it."""
    before, after = window
    sentence = ent.sent
    return any(
        sentence.start <= other.start < sentence.end
        and ent.start - before <= other.start
        and other.start <= ent.end + after
        for other in others
    )


def _plain(entries: Iterable[str]) -> list[str]:
    return [entry for entry in entries if not entry.startswith("re:")]


def _regexes(entries: Iterable[str]) -> list[str]:
    return [entry[3:] for entry in entries if entry.startswith("re:")]


def _dropped(ent: Any, ents: Sequence[Any], other_label: str, device_label: str) -> bool:
    others = [e for e in ents if e.label_ == other_label]
    devices = [e for e in ents if e.label_ == device_label]
    return _near(ent, others, OTHER_SITE_WINDOW) or _near(ent, devices, DEVICE_WINDOW)


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence the libraries' start-up chatter (loguru, prints, warnings)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            from loguru import logger
        except ImportError:  # pragma: no cover
            logger = None
        if logger is not None:
            logger.disable("edsnlp")
        try:
            yield
        finally:
            if logger is not None:
                logger.enable("edsnlp")


# ------------------------------------------------------------------ edsnlp (French)

EDS_EXCLUDED_SECTIONS = frozenset(
    {"antécédents", "antécédents familiaux", "histoire de la maladie", "motif", "indication"}
)
EDS_CONCLUSION_SECTIONS = frozenset({"conclusion", "diagnostic"})
EDS_RADIOLOGY_TITLES = {
    "indication": [
        r"indications?",
        r"renseignements? cliniques?",
        r"contexte(?: clinique)?",
        r"motif de l'examen",
        r"histoire clinique",
        r"demande",
    ],
    "technique": [r"techniques?", r"protocole"],
    "résultats": [r"resultats?", r"constatations?", r"description", r"compte.?rendu"],
    "conclusion": [r"conclusions?", r"en conclusion", r"au total", r"synthese", r"impression"],
}


def make_edsnlp_reader(
    *,
    radiology_sections: bool = True,
    conclusion_first: bool = False,
    project_cues: bool = False,
    vocabulary: Callable[[str], Any] = load_vocabulary,
) -> Callable[[str, str], str | None]:
    """The edsnlp reader (French); pipelines built on first use, once per target.

    ``project_cues`` adds the vocabulary's own cue lists to the qualifiers' default
    patterns (negation, pseudo-negation, uncertainty and hypothetical, historical,
    termination) and its ``normal`` statements as negative evidence: the library's
    engine with the rules' words.
    """

    @cache
    def pipeline(target: str) -> Any:
        import edsnlp
        import edsnlp.pipes as eds
        from edsnlp.pipes.misc.sections import patterns as section_patterns

        words = vocabulary(target).language("fr")
        lists = {
            "target": words.terms,
            "excluded": words.excluded,
            "other_site": words.other_site,
            "device": getattr(words, "device", ()),
            "normal": words.normal if project_cues else (),
        }
        terms = {label: _phrases(entries) for label, entries in lists.items() if entries}
        regex = {label: _regexes(entries) for label, entries in lists.items()}
        regex = {label: patterns for label, patterns in regex.items() if patterns}
        with _quiet():
            nlp = edsnlp.blank("eds")
            nlp.add_pipe(eds.normalizer())
            nlp.add_pipe(eds.sentences())
            nlp.add_pipe(eds.matcher(terms=terms, regex=regex or None, attr="NORM"))
            if radiology_sections:
                # The library's titles plus radiology ones, at the start of a line and
                # followed by a colon or the end of the line ("Indication : ...").
                titles: dict[str, list[str]] = {
                    label: list(values) for label, values in section_patterns.sections.items()
                }
                for label, values in EDS_RADIOLOGY_TITLES.items():
                    titles.setdefault(label, []).extend(values)
                anchored = {
                    label: [rf"(?<=(?:\n|^)[^\n]{{0,5}}){v}(?=[ \t]*(?::|\n|$))" for v in values]
                    for label, values in titles.items()
                }
                nlp.add_pipe(eds.sections(sections=anchored, add_patterns=False))
            else:
                nlp.add_pipe(eds.sections())
            if project_cues:
                from edsnlp.pipes.qualifiers.history import patterns as hist
                from edsnlp.pipes.qualifiers.hypothesis import patterns as hyp
                from edsnlp.pipes.qualifiers.negation import patterns as neg
                from edsnlp.pipes.terminations import termination

                def cues(*names: str) -> list[str]:
                    return _plain(entry for name in names for entry in getattr(words, name, ()))

                stop = [*termination, *cues("termination")]
                nlp.add_pipe(
                    eds.negation(
                        pseudo=[*neg.pseudo, *cues("pseudo_negation")],
                        preceding=[*neg.preceding, *cues("negation")],
                        following=[*neg.following, *cues("negation_post")],
                        termination=stop,
                    )
                )
                nlp.add_pipe(
                    eds.hypothesis(
                        preceding=[*hyp.preceding, *cues("uncertainty", "hypothetical")],
                        following=[*hyp.following, *cues("uncertainty_post", "hypothetical_post")],
                        termination=stop,
                    )
                )
                nlp.add_pipe(
                    eds.history(
                        history=[*hist.history, *cues("historical")],
                        termination=stop,
                        use_sections=True,
                    )
                )
            else:
                nlp.add_pipe(eds.negation())
                nlp.add_pipe(eds.hypothesis())
                nlp.add_pipe(eds.history(use_sections=True))
            nlp.add_pipe(eds.family())
            nlp.add_pipe(eds.reported_speech())
        return nlp

    def read(text: str, target: str) -> str | None:
        doc = pipeline(target)(text)
        mentions = []
        for ent in doc.ents:
            if ent.label_ == "normal" and not (ent._.negation or ent._.hypothesis):
                mentions.append((ent._.section in EDS_CONCLUSION_SECTIONS, "normal"))
            if ent.label_ != "target" or _dropped(ent, doc.ents, "other_site", "device"):
                continue
            if ent._.history or ent._.family or ent._.reported_speech:
                continue
            if ent._.section in EDS_EXCLUDED_SECTIONS:
                continue
            if ent._.hypothesis:
                status = "hypothesis"
            elif ent._.negation:
                status = "negated"
            else:
                status = "affirmed"
            mentions.append((ent._.section in EDS_CONCLUSION_SECTIONS, status))
        if conclusion_first and any(in_conclusion for in_conclusion, _ in mentions):
            mentions = [m for m in mentions if m[0]]
        return _decide([status for _, status in mentions])

    return read


# ------------------------------------------------------------------ medspaCy (English)

MEDSPACY_EXCLUDED_SECTIONS = frozenset(
    {
        "reason_for_examination",
        "history_of_present_illness",
        "past_medical_history",
        "family_history",
        "chief_complaint",
        "indication",
    }
)
MEDSPACY_CONCLUSION_SECTIONS = frozenset({"observation_and_plan", "impression"})
MEDSPACY_RADIOLOGY_TITLES = {
    "indication": ["INDICATION:", "INDICATIONS:", "Indication:", "REASON FOR EXAM:", "REASON:"],
    "findings": ["FINDINGS:", "FINDING:", "Findings:"],
    "comparison": ["COMPARISON:", "Comparison:"],
    "technique": ["TECHNIQUE:", "EXAMINATION:", "EXAM:"],
    "impression": ["IMPRESSION:", "IMPRESSION", "Impression:", "CONCLUSION:", "Conclusion:"],
}


def make_medspacy_reader(
    *,
    radiology_sections: bool = True,
    conclusion_first: bool = False,
    project_cues: bool = False,
    pyrush: bool = True,
    vocabulary: Callable[[str], Any] = load_vocabulary,
) -> Callable[[str, str], str | None]:
    """The medspaCy reader (English); pipelines built on first use, once per target.

    ``project_cues``: as for :func:`make_edsnlp_reader`, as extra ConText rules.
    ``pyrush=False`` splits sentences with spaCy's rule-based ``sentencizer``
    instead of PyRuSH (pure Python, ~90 % of the reading time).
    """

    @cache
    def pipeline(target: str) -> Any:
        import medspacy
        from medspacy.section_detection import SectionRule
        from medspacy.target_matcher import TargetRule

        words = vocabulary(target).language("en")
        lists = {
            "TARGET": [*words.terms, *(["mass"] if target == "lung_nodule" else [])],
            "EXCLUDED": words.excluded,
            "OTHER_SITE": words.other_site,
            "DEVICE": getattr(words, "device", ()),
            "NORMAL": words.normal if project_cues else (),
        }
        with _quiet():
            components = ["medspacy_tokenizer", "medspacy_target_matcher"]
            components += ["medspacy_context", "medspacy_sectionizer"]
            if pyrush:
                components.append("medspacy_pyrush")
            nlp = medspacy.load(medspacy_enable=components)
            if not pyrush:
                nlp.add_pipe("sentencizer", first=True)
        rules = [
            TargetRule(phrase, label)
            for label, entries in lists.items()
            for phrase in _phrases(entries)
        ]
        rules += [
            TargetRule(pattern, label, pattern=f"(?i){pattern}")
            for label, entries in lists.items()
            for pattern in _regexes(entries)
        ]
        nlp.get_pipe("medspacy_target_matcher").add(rules)
        if project_cues:
            from medspacy.context import ConTextRule

            cue_lists = [
                ("negation", "NEGATED_EXISTENCE", "FORWARD"),
                ("negation_post", "NEGATED_EXISTENCE", "BACKWARD"),
                ("pseudo_negation", "PSEUDO_NEGATED_EXISTENCE", "PSEUDO"),
                ("uncertainty", "POSSIBLE_EXISTENCE", "FORWARD"),
                ("uncertainty_post", "POSSIBLE_EXISTENCE", "BACKWARD"),
                ("hypothetical", "HYPOTHETICAL", "FORWARD"),
                ("hypothetical_post", "HYPOTHETICAL", "BACKWARD"),
                ("historical", "HISTORICAL", "BIDIRECTIONAL"),
                ("termination", "TERMINATE", "TERMINATE"),
            ]
            nlp.get_pipe("medspacy_context").add(
                [
                    ConTextRule(cue, category, direction=direction)
                    for name, category, direction in cue_lists
                    for cue in _plain(getattr(words, name, ()))
                ]
            )
        from loguru import logger

        logger.disable("PyRuSH")  # it logs every token at DEBUG level, on every report
        if radiology_sections:
            nlp.get_pipe("medspacy_sectionizer").add(
                [
                    SectionRule(title, category)
                    for category, titles in MEDSPACY_RADIOLOGY_TITLES.items()
                    for title in titles
                ]
            )
        return nlp

    def read(text: str, target: str) -> str | None:
        doc = pipeline(target)(text)
        mentions = []
        for ent in doc.ents:
            if ent.label_ == "NORMAL" and not (ent._.is_negated or ent._.is_uncertain):
                mentions.append((ent._.section_category in MEDSPACY_CONCLUSION_SECTIONS, "normal"))
            if ent.label_ != "TARGET" or _dropped(ent, doc.ents, "OTHER_SITE", "DEVICE"):
                continue
            if ent._.is_historical or ent._.is_family:
                continue
            section = ent._.section_category
            if section in MEDSPACY_EXCLUDED_SECTIONS:
                continue
            if ent._.is_uncertain or ent._.is_hypothetical:
                status = "hypothesis"
            elif ent._.is_negated:
                status = "negated"
            else:
                status = "affirmed"
            mentions.append((section in MEDSPACY_CONCLUSION_SECTIONS, status))
        if conclusion_first and any(in_conclusion for in_conclusion, _ in mentions):
            mentions = [m for m in mentions if m[0]]
        return _decide([status for _, status in mentions])

    return read


# ------------------------------------------------------------------ registry


def _importable(module: str) -> bool:
    try:
        with _quiet():
            importlib.import_module(module)
    except Exception:  # a missing library, or one built against another numpy
        return False
    return True


def _available() -> dict[str, Variant]:
    variants = {}
    if _importable("edsnlp"):
        variants["edsnlp"] = Variant("edsnlp", ("fr",), make_edsnlp_reader())
    if _importable("medspacy"):
        variants["medspacy"] = Variant("medspacy", ("en",), make_medspacy_reader())
    return variants


VARIANTS: dict[str, Variant] = _available()


# ------------------------------------------------------------------ benchmark

LABELS = {"positive": "positive", "negative": "negative", "uncertain": "indeterminate"}


@dataclass(frozen=True)
class _Case:
    corpus: str
    split: str
    language: str
    target: str
    id: str
    text: str
    expected: str | None


def _unit_cases() -> list[_Case]:
    from tests.connectors.report_corpus import CORPUS

    return [
        _Case("unit", "-", item.language, item.target, item.id, item.text, item.expected)
        for item in CORPUS
    ]


def _corpus_cases(root: Path | None) -> list[_Case]:
    """The cases of ``benchmarks/corpora.py`` (unit corpus included), [] without that module."""
    # By path: pysbd (a medspaCy dependency) installs a top-level package named benchmarks.
    import importlib.util

    path = ROOT / "benchmarks" / "corpora.py"
    spec = importlib.util.spec_from_file_location("_bench_corpora", path)
    if not path.exists() or spec is None or spec.loader is None:
        return []
    module = importlib.util.module_from_spec(spec)
    sys.modules["_bench_corpora"] = module
    spec.loader.exec_module(module)
    load_corpora = module.load_corpora
    cases = []
    for corpus in load_corpora(root):
        for item in corpus.items:
            for target, label in item.labels.items():
                cases.append(
                    _Case(
                        corpus.name,
                        corpus.split,
                        corpus.language,
                        target,
                        str(item.id),
                        item.text,
                        LABELS.get(label),
                    )
                )
    return cases


RULE_ERRORS: dict[str, int] = defaultdict(int)


def _rules_reader(name: str, extract: Callable[[str, str], Any]) -> Reader:
    def read(text: str, target: str) -> str | None:
        try:
            return extract(text, target).outcome  # type: ignore[no-any-return]
        except Exception:  # rules being rewritten: count, read as None
            RULE_ERRORS[name] += 1
            return None

    return read


def _snapshot_module(ref: str) -> Any | None:
    """``connectors/report_text.py`` and its vocabularies as committed at git ``ref``.

    A fixed reference (the rules before a rewrite, or HEAD while the working tree
    changes).
    """
    import importlib.util
    import subprocess
    import tempfile

    def show(path: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{ref}:{path}"], capture_output=True, check=True
        ).stdout

    try:
        folder = Path(tempfile.mkdtemp(prefix="rules_at_"))
        (folder / "vocabularies").mkdir()
        listing = subprocess.run(
            ["git", "-C", str(ROOT), "ls-tree", "--name-only", ref, "connectors/vocabularies/"],
            capture_output=True, check=True, text=True,
        ).stdout.split()  # fmt: skip
        for path in listing:
            (folder / "vocabularies" / Path(path).name).write_bytes(show(path))
        name = "report_text_at_" + "".join(c if c.isalnum() else "_" for c in ref)
        (folder / f"{name}.py").write_bytes(show("connectors/report_text.py"))
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as error:  # no git, or that version does not import here
        print(f"(rules@{ref} unavailable: {error})", file=sys.stderr)
        return None
    return module


def _scores(pairs: list[tuple[str | None, str | None]]) -> dict[str, Any]:
    n = len(pairs)
    positives = [got for expected, got in pairs if expected == "positive"]
    others = [got for expected, got in pairs if expected != "positive"]
    return {
        "n": n,
        "accuracy": round(sum(e == g for e, g in pairs) / n, 3) if n else None,
        "sensitivity": round(positives.count("positive") / len(positives), 3)
        if positives
        else None,
        "fp_rate": round(others.count("positive") / len(others), 3) if others else None,
        "decided": round(sum(g is not None for _, g in pairs) / n, 3) if n else None,
    }


def _per_class(pairs: list[tuple[str | None, str | None]]) -> dict[str, Any]:
    cells: dict[str, list[bool]] = defaultdict(list)
    for expected, got in pairs:
        cells[expected or "none"].append(expected == got)
    return {key: f"{sum(v)}/{len(v)}" for key, v in sorted(cells.items())}


def _speed(read: Reader, cases: list[_Case], repeat: int) -> float:
    timings = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        for case in cases:
            read(case.text, case.target)
        timings.append(time.perf_counter() - started)
    return len(cases) / statistics.median(timings)


_COMMON_ABLATIONS: dict[str, dict[str, bool]] = {
    "default-sections": {"radiology_sections": False},
    "conclusion-first": {"conclusion_first": True},
    "project-cues": {"project_cues": True},
    "project-cues+conclusion": {"project_cues": True, "conclusion_first": True},
}
ABLATIONS: dict[str, dict[str, dict[str, bool]]] = {
    "edsnlp": _COMMON_ABLATIONS,
    "medspacy": {**_COMMON_ABLATIONS, "spacy-sentencizer": {"pyrush": False}},
}
"""Variants of each library reader printed beside it (``--no-ablations`` to skip)."""
TIMED_ABLATIONS = frozenset({"medspacy/spacy-sentencizer"})


def _readers(
    ablations: bool, refs: Sequence[str], vocabulary: str | None
) -> list[tuple[str, tuple[str, ...], Reader]]:
    both = ("fr", "en")
    readers: list[tuple[str, tuple[str, ...], Reader]] = [
        ("rules", both, _rules_reader("rules", extract_outcome))
    ]
    snapshots = {
        ref: _snapshot_module(ref) for ref in {*refs, *([vocabulary] if vocabulary else [])}
    }
    for ref in refs:
        if snapshots[ref] is not None:
            name = f"rules@{ref}"
            readers.append((name, both, _rules_reader(name, snapshots[ref].extract_outcome)))
    snapshot = snapshots.get(vocabulary) if vocabulary else None
    words = snapshot.load_vocabulary if snapshot is not None else load_vocabulary
    factories = {
        "edsnlp": (("fr",), make_edsnlp_reader),
        "medspacy": (("en",), make_medspacy_reader),
    }
    for name in VARIANTS:
        languages, make = factories[name]
        readers.append((name, languages, make(vocabulary=words)))
        if ablations:
            for suffix, options in ABLATIONS[name].items():
                readers.append((f"{name}/{suffix}", languages, make(vocabulary=words, **options)))
    return readers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (median)")
    parser.add_argument("--corpora", type=Path, default=Path("/work/corpora"))
    parser.add_argument("--no-ablations", action="store_true")
    parser.add_argument(
        "--rules-ref",
        action="append",
        default=[],
        help="also run the rules as committed at this git ref (repeatable)",
    )
    parser.add_argument(
        "--vocabulary-ref",
        help="git ref of the vocabularies the library variants read (default: working tree)",
    )
    parser.add_argument("--errors", default="", help="print the errors of this reader (dev/unit)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"\[W036\]")  # medspaCy's empty matchers
    cases = _corpus_cases(args.corpora if args.corpora.exists() else None) or _unit_cases()
    readers = _readers(not args.no_ablations, args.rules_ref, args.vocabulary_ref)
    if not VARIANTS:
        print("no library variant imports here (install the nlp-bench extra)", file=sys.stderr)

    groups: dict[tuple[str, str, str, str], list[_Case]] = defaultdict(list)
    for case in cases:
        groups[(case.corpus, case.split, case.language, case.target)].append(case)

    rows = []
    for (corpus, split, language, target), group in sorted(groups.items()):
        for name, languages, read in readers:
            if language not in languages:
                continue
            pairs = [(case.expected, read(case.text, case.target)) for case in group]
            row = {"corpus": corpus, "split": split, "language": language, "target": target}
            row |= {"reader": name, **_scores(pairs), "per_class": _per_class(pairs)}
            rows.append(row)
            if args.errors == name and split in ("-", "unit", "dev"):
                for case, (expected, got) in zip(group, pairs, strict=True):
                    if expected != got:
                        print(f"  {name} {case.id}: expected {expected}, got {got}: {case.text!r}")

    columns = ["corpus", "split", "language", "target", "reader", "n", "accuracy",
               "sensitivity", "fp_rate", "decided", "per_class"]  # fmt: skip
    print(render_table([{k: row[k] for k in columns} for row in rows], columns))

    by_corpus: dict[str, list[_Case]] = defaultdict(list)
    for case in cases:
        by_corpus[case.corpus].append(case)
    print(f"\nspeed, one process (reports/s, median of {args.repeat} passes):")
    for corpus, corpus_cases in by_corpus.items():
        for name, languages, read in readers:
            subset = [case for case in corpus_cases if case.language in languages]
            if ("/" in name and name not in TIMED_ABLATIONS) or not subset:
                continue
            chars = statistics.mean(len(case.text) for case in subset)
            speed = _speed(read, subset, args.repeat)
            print(f"  {corpus} {name}: {speed:,.0f} ({len(subset)} reads, {chars:,.0f} chars avg)")
    if RULE_ERRORS:
        print(f"\nrules raised on some reports (read as None): {dict(RULE_ERRORS)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
