"""Labelled radiology-report corpora for the report-text benchmark.

Each corpus is whole reports with a label per target (``lung_nodule``, ``fracture``):
``positive`` | ``negative`` | ``uncertain`` | ``absent`` (``absent``: the report does not
speak of the target; conventions in ``benchmarks/README.md``). A report may carry a
label for one target only (Open-i has no fracture label, the unit corpus labels only
its own target).

Committed, always loaded:

- ``unit-corpus`` (split ``unit``): the sentences of ``tests/connectors/report_corpus.py``;
- ``fr-written`` (``dev`` and ``test``) and ``en-written`` (``test``): whole synthetic
  reports written for the project, ``tests/data/report_corpora/*.yaml``.

Not committed (their licences forbid it or are non-commercial), loaded from the folder
given to :func:`load_corpora` (``/work/corpora`` on the development machine) when there:

- ``openi-negbio``: ``openi/openi-testset.txt`` and ``openi/openi_gld_std14.csv`` from
  ncbi-nlp/NegBio ``examples/``; the report texts are not in NegBio and are read from
  ``openi/reports/`` (``CXR<n>.txt`` or the Open-i ``<n>.xml``) or ``openi/reports.jsonl``;
- ``parrot-fr``: French reports of PARROT (``parrot/Fr_sample.json`` from
  PARROT-reports/PARROT-v0, and ``parrot/PARROT_v1_0.jsonl`` from PARROT-reports/PARROT_v1.0
  or its partial copy ``parrot/parrot_v1_fr_transcribed.jsonl``) with our labels
  ``parrot/labels.tsv``.

The dev/test split of the corpora that have none of their own is the committed id list
``tests/data/report_corpora/splits.json``, made by :func:`make_split` (stratified on the
positive labels, order by a SHA-256 of corpus name and id, alternating dev/test) and
rewritten by ``python benchmarks/corpora.py --write-splits FOLDER``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib
import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "LABELS",
    "TARGETS",
    "Corpus",
    "Item",
    "load_corpora",
    "make_split",
    "missing_corpora",
]

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "tests" / "data" / "report_corpora"
SPLITS_FILE = COMMITTED / "splits.json"

TARGETS = ("lung_nodule", "fracture")
LABELS = ("positive", "negative", "uncertain", "absent")


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    labels: dict[str, str]  # target -> "positive" | "negative" | "uncertain" | "absent"


@dataclass(frozen=True)
class Corpus:
    name: str  # e.g. "openi-negbio", "parrot-fr", "fr-written", "unit-corpus"
    language: str  # "fr" | "en"
    split: str  # "dev" | "test" | "unit"
    licence: str
    origin: str
    notes: str
    items: tuple[Item, ...]


def load_corpora(folder: Path | None) -> list[Corpus]:
    """Committed corpora always; those under `folder` (e.g. /work/corpora) when given and present."""  # noqa: E501
    corpora = _unit_corpora() + _written_corpora()
    if folder is not None:
        folder = Path(folder)
        splits = _committed_splits()
        for loader in (_openi_corpora, _parrot_corpora, _mtsamples_corpora):
            corpora.extend(loader(folder, splits))
        corpora.extend(_parrot_heldout_corpora(folder))
        corpora.extend(_parrot_translated_corpora(folder))
    return corpora


def missing_corpora(folder: Path | None) -> list[str]:
    """Why each outside corpus is not loaded from `folder` (empty when all are)."""
    if folder is None:
        return ["openi-negbio, parrot-fr: no --corpora folder given"]
    folder = Path(folder)
    reasons = []
    openi = folder / "openi"
    if not (openi / "openi-testset.txt").exists() or not (openi / "openi_gld_std14.csv").exists():
        reasons.append(f"openi-negbio: {openi}/openi-testset.txt or openi_gld_std14.csv missing")
    elif not _openi_texts(openi, _openi_ids(openi)):
        reasons.append(
            f"openi-negbio: no report text under {openi}/reports/ or {openi}/reports.jsonl "
            "(NegBio ships only the ids and the labels; see benchmarks/README.md)"
        )
    parrot = folder / "parrot"
    if not (parrot / "Fr_sample.json").exists():
        reasons.append(f"parrot-fr: {parrot}/Fr_sample.json missing")
    return reasons


# ------------------------------------------------------------------ splits


def make_split(name: str, strata: Mapping[str, Any]) -> dict[str, list[str]]:
    """Deterministic ~50/50 dev/test split of ids, stratified on `strata` (id -> stratum).

    Within each stratum the ids are ordered by SHA-256 of ``name:id`` and dealt
    alternately to dev and test, so every stratum of two or more ids is in both halves.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for item_id, stratum in strata.items():
        groups[repr(stratum)].append(item_id)
    split: dict[str, list[str]] = {"dev": [], "test": []}
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda i: hashlib.sha256(f"{name}:{i}".encode()).digest())
        for index, item_id in enumerate(ordered):
            split["dev" if index % 2 == 0 else "test"].append(item_id)
    return {half: sorted(ids, key=_natural) for half, ids in split.items()}


def _stratum(labels: Mapping[str, str]) -> tuple[bool, ...]:
    return tuple(labels.get(target) == "positive" for target in TARGETS)


def _committed_splits() -> dict[str, dict[str, list[str]]]:
    if not SPLITS_FILE.exists():
        return {}
    data: dict[str, Any] = json.loads(SPLITS_FILE.read_text(encoding="utf-8"))
    return {name: value for name, value in data.items() if not name.startswith("_")}


def _apply_split(
    name: str,
    items: list[Item],
    splits: Mapping[str, Mapping[str, list[str]]],
    make: Callable[[str, list[Item], str], Corpus],
) -> list[Corpus]:
    known = splits.get(name)
    if known is None:
        assignment = make_split(name, {item.id: _stratum(item.labels) for item in items})
    else:
        assignment = {half: list(ids) for half, ids in known.items()}
        listed = {i for ids in assignment.values() for i in ids}
        unlisted = [item.id for item in items if item.id not in listed]
        if unlisted:
            print(
                f"corpora: {name}: {len(unlisted)} items not in {SPLITS_FILE.name}, "
                "left out (rewrite the splits with --write-splits)",
                file=sys.stderr,
            )
    by_id = {item.id: item for item in items}
    corpora = []
    for half in ("dev", "test"):
        chosen = [by_id[i] for i in assignment.get(half, []) if i in by_id]
        corpora.append(make(name, chosen, half))
    return corpora


def _natural(item_id: str) -> tuple[str, int, str]:
    digits = "".join(c for c in item_id if c.isdigit())
    prefix = item_id.rstrip("0123456789")
    return (prefix, int(digits) if digits else -1, item_id)


# ------------------------------------------------------------------ committed


def _unit_corpora() -> list[Corpus]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.connectors.report_corpus import CORPUS

    mapping = {"positive": "positive", "negative": "negative", "indeterminate": "uncertain"}
    by_language: dict[str, list[Item]] = defaultdict(list)
    for entry in CORPUS:
        label = mapping.get(entry.expected or "", "absent")
        by_language[entry.language].append(Item(entry.id, entry.text, {entry.target: label}))
    return [
        Corpus(
            name="unit-corpus",
            language=language,
            split="unit",
            licence="project's own (synthetic, written for the tests)",
            origin="tests/connectors/report_corpus.py",
            notes=(
                "Sentences and short conclusions written with the rules; each item labelled "
                "for its own target only (indeterminate -> uncertain, None -> absent)."
            ),
            items=tuple(items),
        )
        for language, items in sorted(by_language.items())
    ]


def _written_corpora() -> list[Corpus]:
    corpora = []
    for path in sorted(COMMITTED.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = tuple(
            Item(
                str(entry["id"]),
                str(entry["text"]),
                {str(t): _checked(str(v), path) for t, v in entry["labels"].items()},
            )
            for entry in data["items"]
        )
        corpora.append(
            Corpus(
                name=str(data["name"]),
                language=str(data["language"]),
                split=str(data["split"]),
                licence=str(
                    data.get("licence", "project's own (synthetic, written for the project)")
                ),
                origin=str(data["origin"]),
                notes=" ".join(str(data.get("notes", "")).split()),
                items=items,
            )
        )
    return corpora


def _read_labels(path: Path) -> dict[str, dict[str, str]]:
    """Our labels of an outside corpus: a TSV with ``id`` and one column per target
    (other columns, such as a note, ignored); raises ValueError on an unknown label."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {row["id"]: {t: _checked(row[t], path) for t in TARGETS} for row in reader}


def _checked(label: str, where: Path) -> str:
    if label not in LABELS:
        raise ValueError(f"{where}: label {label!r} is not one of {LABELS}")
    return label


# ------------------------------------------------------------------ Open-i (NegBio)

OPENI_LICENCE = (
    "labels and id list: NegBio (NCBI), US-Government work, public-domain notice; "
    "report texts: Indiana University chest X-ray collection (Open-i), CC BY-NC-ND 4.0 "
    "as redistributed - not committed"
)
OPENI_ORIGIN = (
    "ncbi-nlp/NegBio examples/openi-testset.txt (771 ids) and examples/openi_gld_std14.csv "
    "(gold labels, commit c04cdb9); texts from the Open-i Indiana collection, only these ids"
)
OPENI_NOTES = (
    "The gold standard is ChestX-ray14-style: 14 findings (Atelectasis, Cardiomegaly, "
    "Effusion, Infiltration, Mass, Nodule, Pneumonia, Pneumothorax, Consolidation, Edema, "
    "Emphysema, Fibrosis, Pleural_Thickening, Hernia) plus 'normal', binary 1/0, no "
    "uncertain and no blank: 0 merges negated, uncertain and unmentioned findings (all "
    "mapped to 'negative'). lung_nodule = Nodule or Mass. It has no Fracture column: the "
    "fracture label (a current fracture) comes from the collection's own coded findings "
    "(MeSH, assigned by the collection's curators): 'Fractures, Bone' without 'healed' is "
    "positive, healed fractures and the rest negative (reports.jsonl, field fracture); "
    "where fracture_current.tsv is present (47 reports with that tag or the word "
    "'fractur', read by hand blind to the readers: current / old, negated or device / "
    "hedged), it replaces the MeSH label: MeSH misses 'remote' and 'old' fractures. "
    "Labels cover 3,851 Open-i reports; only the 771 "
    "NegBio test-set ids are used, the rest of the Indiana collection is reserved."
)


def _openi_mesh_fracture(openi: Path) -> dict[str, str]:
    """Current-fracture labels of the Open-i items that ``reports.jsonl`` gives: from the
    collection's own coded MeSH findings, ``Fractures, Bone`` without ``healed``."""
    jsonl = openi / "reports.jsonl"
    if not jsonl.exists():
        return {}
    records = (json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines() if line)
    return {
        str(r["id"]): str(r["fracture"])
        for r in records
        if r.get("fracture") in ("positive", "negative")
    }


def _openi_ids(openi: Path) -> list[str]:
    text = (openi / "openi-testset.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _openi_texts(openi: Path, ids: Iterable[str]) -> dict[str, str]:
    wanted = set(ids)
    texts: dict[str, str] = {}
    jsonl = openi / "reports.jsonl"
    if jsonl.exists():
        for line in jsonl.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if str(record["id"]) in wanted:
                    texts[str(record["id"])] = str(record["text"])
    reports = openi / "reports"
    for item_id in wanted - texts.keys():
        plain = reports / f"{item_id}.txt"
        xml = reports / f"{item_id.removeprefix('CXR')}.xml"
        if plain.exists():
            texts[item_id] = plain.read_text(encoding="utf-8")
        elif xml.exists():
            texts[item_id] = _openi_xml_text(xml)
    return texts


def _openi_xml_text(path: Path) -> str:
    """The sections of an Open-i (ecgen-radiology) report, one ``LABEL: text`` a line."""
    root = ET.parse(path).getroot()
    lines = []
    for node in root.iter("AbstractText"):
        label = node.get("Label") or ""
        body = " ".join("".join(node.itertext()).split())
        if body:
            lines.append(f"{label.upper()}: {body}" if label else body)
    return "\n".join(lines)


def _openi_corpora(folder: Path, splits: Mapping[str, Mapping[str, list[str]]]) -> list[Corpus]:
    openi = folder / "openi"
    if not (openi / "openi-testset.txt").exists() or not (openi / "openi_gld_std14.csv").exists():
        return []
    ids = _openi_ids(openi)
    gold = _openi_gold(openi, ids)
    texts = _openi_texts(openi, ids)
    if not texts:
        return []
    for item_id, label in _openi_mesh_fracture(openi).items():
        if item_id in gold:
            gold[item_id] = {**gold[item_id], "fracture": label}
    curated = openi / "fracture_current.tsv"
    if not curated.exists():
        curated = COMMITTED / "openi_fracture_labels.tsv"  # the same labels, no notes
    if curated.exists():
        # Read by hand, blind to the readers: every report with the MeSH fracture tag or
        # the word "fractur", current (positive), old/negated/device (negative), hedged.
        with curated.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                if row["id"] in gold and row["label"] in ("positive", "negative", "uncertain"):
                    gold[row["id"]] = {**gold[row["id"]], "fracture": row["label"]}
    items = [Item(i, texts[i], gold[i]) for i in ids if i in texts and i in gold]

    def make(name: str, chosen: list[Item], half: str) -> Corpus:
        return Corpus(name, "en", half, OPENI_LICENCE, OPENI_ORIGIN, OPENI_NOTES, tuple(chosen))

    return _apply_split("openi-negbio", items, splits, make)


def _openi_gold(openi: Path, ids: Iterable[str]) -> dict[str, dict[str, str]]:
    wanted = set(ids)
    gold = {}
    with (openi / "openi_gld_std14.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["filename"] in wanted:
                nodule = row["Nodule"].strip() == "1" or row["Mass"].strip() == "1"
                gold[row["filename"]] = {"lung_nodule": "positive" if nodule else "negative"}
    return gold


# ------------------------------------------------------------------ PARROT (French)

PARROT_LICENCE = "CC BY-NC-SA 4.0 (PARROT) - non-commercial: not committed"
PARROT_ORIGIN = (
    "PARROT-reports/PARROT-v0 Fr_sample.json (40 French reports, ids v0-<index>) and "
    "PARROT-reports/PARROT_v1.0 data/PARROT_v1_0.jsonl (69 French reports, ids v1-<no>, "
    "nos 2619-2719; texts from the original file when present, else from our verbatim "
    "transcription parrot_v1_fr_transcribed.jsonl)"
)
PARROT_NOTES = (
    "Fictional reports written by radiologists (France, Gabon), whole French text only "
    "(English translations ignored). Labels are ours (labels.tsv, one note per report): "
    "nodules of other organs (thyroid, liver, spleen, adrenal, breast, omentum, larynx, "
    "lymph nodes, brain) are not lung_nodule; lung metastases = positive; stable known "
    "micronodules = positive; 'lésion osseuse suspecte/lytique' wording is oncologic and "
    "left absent for fracture; old/healed fractures and device 'fractures' are not current "
    "fractures. v1 reports selected: all of contributors Nguema Edzang, Chavihot and Le "
    "Guellec in that range except near-duplicates of v0 reports, plus 9 of the brain-MRI "
    "series (those naming a trap word or a fracture, and 3 plain ones)."
)


def _parrot_corpora(folder: Path, splits: Mapping[str, Mapping[str, list[str]]]) -> list[Corpus]:
    parrot = folder / "parrot"
    labels_path = parrot / "labels.tsv"
    if not labels_path.exists():
        labels_path = COMMITTED / "parrot_fr_labels.tsv"  # our labels, without the notes
    labels = _read_labels(labels_path)
    texts = _parrot_texts(parrot)
    items = [Item(i, texts[i], labels[i]) for i in sorted(labels, key=_natural) if i in texts]
    if not items:
        return []

    def make(name: str, chosen: list[Item], half: str) -> Corpus:
        return Corpus(name, "fr", half, PARROT_LICENCE, PARROT_ORIGIN, PARROT_NOTES, tuple(chosen))

    return _apply_split("parrot-fr", items, splits, make)


PARROT_HELDOUT_NOTES = (
    "A second, later selection of about 80 French PARROT_v1.0 reports (numbers outside "
    "2619-2719), transcribed and labelled by a helper who never ran a reader on them, after "
    "the rules were frozen: the whole set is a test split, never looked at for tuning. "
    "Labels as parrot-fr (labels_heldout.tsv; committed without notes as "
    "tests/data/report_corpora/parrot_fr_heldout_labels.tsv)."
)


def _parrot_heldout_corpora(folder: Path) -> list[Corpus]:
    parrot = folder / "parrot"
    labels_path = parrot / "labels_heldout.tsv"
    if not labels_path.exists():
        labels_path = COMMITTED / "parrot_fr_heldout_labels.tsv"
    if not labels_path.exists():
        return []
    labels = _read_labels(labels_path)
    texts: dict[str, str] = {}
    for name in ("parrot_v1_fr_heldout.jsonl", "PARROT_v1_0.jsonl"):  # original wins
        path = parrot / name
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    texts[f"v1-{record['no']}"] = str(record["report"])
    items = tuple(Item(i, texts[i], labels[i]) for i in sorted(labels, key=_natural) if i in texts)
    if not items:
        return []
    return [
        Corpus(
            "parrot-fr-heldout",
            "fr",
            "test",
            PARROT_LICENCE,
            PARROT_ORIGIN,
            PARROT_HELDOUT_NOTES,
            items,
        )
    ]


PARROT_TRANSLATED_NOTES = (
    "The English translations PARROT gives of the French reports of parrot-fr and "
    "parrot-fr-heldout (field 'English translation' of Fr_sample.json, 'translation' of "
    "PARROT_v1_0.jsonl, kept for the French records in parrot_v1_fr_translations.jsonl "
    "as {no, translation}), with the labels of their French originals. The English "
    "rules were never tuned on them: a test split of whole non-chest-X-ray reports "
    "(CT, MRI, ultrasound of every region), few positives."
)


def _parrot_translated_corpora(folder: Path) -> list[Corpus]:
    parrot = folder / "parrot"
    texts: dict[str, str] = {}
    v0 = parrot / "Fr_sample.json"
    if v0.exists():
        for index, record in enumerate(json.loads(v0.read_text(encoding="utf-8"))):
            if record.get("English translation"):
                texts[f"v0-{index:02d}"] = str(record["English translation"])
    path = parrot / "parrot_v1_fr_translations.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                texts[f"v1-{record['no']}"] = str(record["translation"])
    labels = {
        **_read_labels(COMMITTED / "parrot_fr_labels.tsv"),
        **_read_labels(COMMITTED / "parrot_fr_heldout_labels.tsv"),
    }
    items = tuple(Item(i, texts[i], labels[i]) for i in sorted(labels, key=_natural) if i in texts)
    if not items:
        return []
    return [
        Corpus(
            "parrot-en-translated",
            "en",
            "test",
            PARROT_LICENCE,
            PARROT_ORIGIN,
            PARROT_TRANSLATED_NOTES,
            items,
        )
    ]


def _parrot_texts(parrot: Path) -> dict[str, str]:
    texts = {}
    v0 = parrot / "Fr_sample.json"
    if v0.exists():
        for index, record in enumerate(json.loads(v0.read_text(encoding="utf-8"))):
            texts[f"v0-{index:02d}"] = str(record["Report"])
    for name in ("parrot_v1_fr_transcribed.jsonl", "PARROT_v1_0.jsonl"):  # original wins
        path = parrot / name
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    if (
                        name == "parrot_v1_fr_transcribed.jsonl"
                        or record.get("language") == "French"
                    ):
                        texts[f"v1-{record['no']}"] = str(record["report"])
    return texts


# ------------------------------------------------------------------ MTSamples (English)

MTSAMPLES_LICENCE = (
    "CC0 as declared by the redistributor (Kaggle tboyle10/medicaltranscriptions, "
    "copied in kdpsingh/clinspacy); mtsamples.com's own terms unverified - not committed"
)
MTSAMPLES_ORIGIN = (
    "kdpsingh/clinspacy data/mtsamples.rda (commit 2efc73a), the MTSamples transcription "
    "samples: the 138 diagnostic imaging reports of the Radiology specialty (ids "
    "mtsamples-<note_id>), in mtsamples_radiology/reports.jsonl"
)
MTSAMPLES_NOTES = (
    "Transcribed English radiology reports (radiographs, CT, MRI, ultrasound, "
    "mammography, PET), line breaks turned into commas by the scrape. Labels are ours "
    "(labels.tsv), read blind to the readers: few positives (5 lung nodule, 3 fracture), "
    "many other-organ masses and negations."
)


MTSAMPLES_LABELS = COMMITTED / "mtsamples_radiology_labels.tsv"


def mtsamples_from_rda(rda_path: Path, folder: Path) -> int:
    """Write ``folder/mtsamples_radiology/reports.jsonl`` from the MTSamples table of
    kdpsingh/clinspacy ``data/mtsamples.rda`` (R data, read with pyreadr: ``pip install
    pyreadr``), keeping the reports whose ids are in our committed labels (the Radiology
    specialty's imaging reports). Returns the number of reports written."""
    try:
        pyreadr = importlib.import_module("pyreadr")  # optional: this command only
    except ImportError as error:
        raise SystemExit("reading an .rda file needs pyreadr: pip install pyreadr") from error
    with MTSAMPLES_LABELS.open(encoding="utf-8", newline="") as handle:
        wanted = {row["id"] for row in csv.DictReader(handle, delimiter="\t")}
    table = pyreadr.read_r(str(rda_path))["mtsamples"]
    base = folder / "mtsamples_radiology"
    base.mkdir(parents=True, exist_ok=True)
    written = 0
    with (base / "reports.jsonl").open("w", encoding="utf-8") as out:
        for note_id, text in zip(table["note_id"], table["transcription"], strict=True):
            item_id = f"mtsamples-{int(note_id)}"
            if item_id in wanted and isinstance(text, str):
                out.write(json.dumps({"id": item_id, "report": text}, ensure_ascii=False) + "\n")
                written += 1
    return written


def _mtsamples_corpora(folder: Path, splits: Mapping[str, Mapping[str, list[str]]]) -> list[Corpus]:
    base = folder / "mtsamples_radiology"
    if not (base / "reports.jsonl").exists():
        return []
    labels_path = base / "labels.tsv"
    if not labels_path.exists():
        labels_path = MTSAMPLES_LABELS  # our labels, without the notes
    labels = _read_labels(labels_path)
    texts = {}
    for line in (base / "reports.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            texts[str(record["id"])] = str(record["report"])
    items = [Item(i, texts[i], labels[i]) for i in sorted(labels, key=_natural) if i in texts]
    if not items:
        return []

    def make(name: str, chosen: list[Item], half: str) -> Corpus:
        return Corpus(
            name, "en", half, MTSAMPLES_LICENCE, MTSAMPLES_ORIGIN, MTSAMPLES_NOTES, tuple(chosen)
        )

    return _apply_split("mtsamples-radiology", items, splits, make)


# ------------------------------------------------------------------ command line


def _write_splits(folder: Path) -> None:
    """Add the stratified split of outside corpora that have none yet; a split already
    in the file is never dealt again (its test half must stay the one never tuned on)."""
    data: dict[str, Any] = {
        "_about": (
            "dev/test ids of the corpora without a split of their own; made by "
            "benchmarks/corpora.py make_split (strata: positive per target; SHA-256 of "
            "'name:id' order; alternating dev/test). 'python benchmarks/corpora.py "
            "--write-splits FOLDER' adds the corpora missing here and keeps the others."
        ),
        **_committed_splits(),
    }
    openi = folder / "openi"
    if "openi-negbio" not in data and (openi / "openi-testset.txt").exists():
        gold = _openi_gold(openi, _openi_ids(openi))  # split from ids and labels, texts or not
        data["openi-negbio"] = make_split("openi-negbio", {i: _stratum(g) for i, g in gold.items()})
    if "parrot-fr" not in data:
        loaded = _parrot_corpora(folder, {})
        if loaded:
            data["parrot-fr"] = {c.split: [i.id for i in c.items] for c in loaded}
    if "mtsamples-radiology" not in data:
        loaded = _mtsamples_corpora(folder, {})
        if loaded:
            data["mtsamples-radiology"] = {c.split: [i.id for i in c.items] for c in loaded}
    SPLITS_FILE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {SPLITS_FILE}: " + ", ".join(k for k in data if not k.startswith("_")))


def openi_from_csv(csv_path: Path, folder: Path) -> int:
    """Write ``folder/openi/reports.jsonl`` from an Indiana collection table (columns uid,
    MeSH, indication, comparison, findings, impression, as in ``indiana_reports.csv``),
    keeping ONLY the ids of NegBio's test set (``folder/openi/openi-testset.txt``): the
    rest of the collection is reserved for independent evaluation and is not read
    further than its id. Each text is ``INDICATION: ... / COMPARISON: ... / FINDINGS: ...
    / IMPRESSION: ...`` on separate lines; ``fracture`` is the MeSH label (``Fractures,
    Bone`` without ``healed``). Returns the number of reports written."""
    openi = folder / "openi"
    wanted = {item_id.removeprefix("CXR"): item_id for item_id in _openi_ids(openi)}
    written = 0
    with (
        csv_path.open(encoding="utf-8", newline="") as handle,
        (openi / "reports.jsonl").open("w", encoding="utf-8") as out,
    ):
        for row in csv.DictReader(handle):
            item_id = wanted.get(row.get("uid", ""))
            if item_id is None:
                continue
            parts = [
                f"{label}: {(row.get(key) or '').strip()}"
                for key, label in (
                    ("indication", "INDICATION"),
                    ("comparison", "COMPARISON"),
                    ("findings", "FINDINGS"),
                    ("impression", "IMPRESSION"),
                )
                if (row.get(key) or "").strip()
            ]
            mesh = row.get("MeSH") or ""
            current = [
                m for m in mesh.split(";") if m.startswith("Fractures, Bone") and "healed" not in m
            ]
            record = {
                "id": item_id,
                "text": "\n".join(parts),
                "fracture": "positive" if current else "negative",
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description="List the report corpora (or rewrite splits).")
    parser.add_argument("--corpora", type=Path, default=None, help="folder of outside corpora")
    parser.add_argument("--write-splits", type=Path, default=None, metavar="FOLDER")
    parser.add_argument(
        "--openi-from-csv",
        nargs=2,
        type=Path,
        metavar=("CSV", "FOLDER"),
        help="write FOLDER/openi/reports.jsonl from indiana_reports.csv (NegBio's ids only)",
    )
    parser.add_argument(
        "--mtsamples-from-rda",
        nargs=2,
        type=Path,
        metavar=("RDA", "FOLDER"),
        help="write FOLDER/mtsamples_radiology/reports.jsonl from clinspacy's mtsamples.rda",
    )
    args = parser.parse_args()
    if args.mtsamples_from_rda is not None:
        count = mtsamples_from_rda(*args.mtsamples_from_rda)
        print(f"wrote {args.mtsamples_from_rda[1]}/mtsamples_radiology/reports.jsonl: {count}")
        return
    if args.openi_from_csv is not None:
        count = openi_from_csv(*args.openi_from_csv)
        print(f"wrote {args.openi_from_csv[1]}/openi/reports.jsonl: {count} reports")
        return
    if args.write_splits is not None:
        _write_splits(args.write_splits)
        return
    for corpus in load_corpora(args.corpora):
        counts = {t: sum(i.labels.get(t) == "positive" for i in corpus.items) for t in TARGETS}
        print(f"{corpus.name:14} {corpus.language} {corpus.split:5} {len(corpus.items):4} {counts}")
    for reason in missing_corpora(args.corpora):
        print(f"not loaded: {reason}")


if __name__ == "__main__":
    main()
