"""Console pages: ingestion runs and their quarantined rows, re-ingesting a fixed file,
uploading a file (``/ingestion``, ``/ingestion/runs/{id}``, ``/ingestion/upload``).

Quarantined rows keep the exam's accession number and study UID (only the patient id
and report text are redacted at ingestion), so a page shows a row's line, its reason
(with any identifier value cut out) and, to quality users only, the fields of
:data:`SHOWN_COLUMNS`: never an identifier, a pseudonym or a report's hash.
Re-ingesting and uploading run as console tasks (:mod:`monitor.web.tasks`) whose
progress is the last committed line of the file out of its line count.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from starlette.datastructures import UploadFile

from connectors import SourceMapping
from monitor import audit
from monitor import report_texts as tx
from monitor.api.context import ApiState
from monitor.config import Config, SourceConfig
from monitor.errors import IngestError, MonitorError
from monitor.ingest import IngestReport, Kind, ingest_file
from monitor.input_checks import UnmatchedOutcomes, unmatched_outcomes
from monitor.models import IngestionRun, JobRun, QuarantinedRow
from monitor.sources import find_source, mapping_for, read_limits
from monitor.timeutil import utc_now
from monitor.watch import FAILED, PROCESSED
from monitor.web.auth import Posted, QualityPost, ViewerLogin
from monitor.web.i18n import register, translate
from monitor.web.render import PageNotFound, language, page
from monitor.web.sessions import Login
from monitor.web.tasks import Progress

__all__ = [
    "SHOWN_COLUMNS",
    "clean_reason",
    "count_lines",
    "ingest_with_progress",
    "locate_file",
    "router",
    "shown_fields",
    "upload_dir",
]

router = APIRouter()

KINDS: Final = ("predictions", "outcomes")
RUNS_SHOWN: Final = 100
ROWS_SHOWN: Final = 500
REASONS_SHOWN: Final = 20
INGEST_JOB: Final = "ingest"

SHOWN_COLUMNS: Final = (
    "device_id",
    "device_version",
    "target",
    "exam_datetime",
    "ai_result",
    "ai_score",
    "ai_datetime",
    "site",
    "modality",
    "body_part",
    "scanner_manufacturer",
    "scanner_model",
    "outcome",
    "source",
    "outcome_datetime",
)
"""The canonical columns of a quarantined row a quality user may see (no identifier,
no patient pseudonym, no report text or hash, no age or sex)."""

IDENTIFYING: Final = ("accession_number", "study_instance_uid", "patient_id", "report_text")
"""Canonical columns whose values are cut out of a quarantine reason before showing it."""

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_SUFFIX = re.compile(r"\.[a-z0-9]{1,10}")

register(
    {
        "ingestion.title": ("Ingestion des données", "Data ingestion"),
        "ingestion.run_title": ("Passe d’ingestion", "Ingestion run"),
        "ingestion.runs": ("Passes récentes", "Recent runs"),
        "ingestion.runs_caption": (
            "Les {n} dernières passes d’ingestion, la plus récente en premier",
            "The last {n} ingestion runs, newest first",
        ),
        "ingestion.no_runs": ("Aucune passe d’ingestion.", "No ingestion run."),
        "ingestion.col.run": ("Passe", "Run"),
        "ingestion.col.kind": ("Type", "Kind"),
        "ingestion.col.source": ("Source", "Source"),
        "ingestion.col.file": ("Fichier", "File"),
        "ingestion.col.started": ("Début", "Started"),
        "ingestion.col.finished": ("Fin", "Finished"),
        "ingestion.col.status": ("État", "Status"),
        "ingestion.col.read": ("Lues", "Read"),
        "ingestion.col.accepted": ("Acceptées", "Accepted"),
        "ingestion.col.duplicate": ("Doublons", "Duplicates"),
        "ingestion.col.quarantined": ("En quarantaine", "Quarantined"),
        "ingestion.col.error": ("Erreur", "Error"),
        "ingestion.col.reason": ("Motif", "Reason"),
        "ingestion.col.count": ("Lignes", "Rows"),
        "ingestion.col.line": ("Ligne", "Line"),
        "ingestion.col.fields": ("Champs lus", "Fields read"),
        "ingestion.col.name": ("Nom", "Name"),
        "ingestion.col.format": ("Format", "Format"),
        "ingestion.col.pattern": ("Dossier et motif de fichiers", "Folder and file pattern"),
        "ingestion.run_link": ("passe {id}", "run {id}"),
        "ingestion.kind.predictions": ("prédictions", "predictions"),
        "ingestion.kind.outcomes": ("vérités terrain", "outcomes"),
        "ingestion.status.running": ("en cours", "running"),
        "ingestion.status.completed": ("terminée", "completed"),
        "ingestion.status.failed": ("en échec", "failed"),
        "ingestion.quarantine": ("Lignes en quarantaine", "Quarantined rows"),
        "ingestion.quarantine_caption": (
            "Lignes en quarantaine par motif (valeurs masquées), les {n} motifs les plus fréquents",
            "Quarantined rows by reason (values hidden), the {n} most frequent reasons",
        ),
        "ingestion.quarantine_total": (
            "{n} ligne(s) en quarantaine au total.",
            "{n} quarantined row(s) in all.",
        ),
        "ingestion.no_quarantine": ("Aucune ligne en quarantaine.", "No quarantined row."),
        "ingestion.unmatched": (
            "Vérités terrain sans prédiction",
            "Outcomes without a prediction",
        ),
        "ingestion.unmatched_help": (
            "Vérités terrain qu'aucun cas ne relie à une prédiction (même numéro d'examen "
            "ou UID d'étude, même cible, même site) : examens non traités par un dispositif, "
            "ou prédictions pas encore reçues.",
            "Outcomes no case links to a prediction (same accession number or study UID, "
            "same target, same site): exams no device processed, or predictions not "
            "received yet.",
        ),
        "ingestion.unmatched_caption": (
            "Par mois de la vérité terrain et cible, les 12 derniers mois",
            "By month of the outcome and target, the last 12 months",
        ),
        "ingestion.no_unmatched": (
            "Toutes les vérités terrain des 12 derniers mois correspondent à une prédiction.",
            "Every outcome of the last 12 months matches a prediction.",
        ),
        "ingestion.any_target": ("toutes cibles", "every target"),
        "ingestion.col.month": ("Mois", "Month"),
        "ingestion.col.target": ("Cible", "Target"),
        "ingestion.sources": ("Sources configurées", "Configured sources"),
        "ingestion.sources_caption": (
            "Les sources lues par le service (fichier de configuration)",
            "The sources the service reads (configuration file)",
        ),
        "ingestion.no_sources": (
            "Aucune source n’est configurée.",
            "No source is configured.",
        ),
        "ingestion.last_poll": (
            "Dernière lecture des dossiers surveillés\u00a0: {when} ({status}).",
            "Watched folders last polled: {when} ({status}).",
        ),
        "ingestion.last_poll_files": (
            "{ingested} fichier(s) ingéré(s), {failed} en échec.",
            "{ingested} file(s) ingested, {failed} failed.",
        ),
        "ingestion.job.running": ("en cours", "running"),
        "ingestion.job.success": ("réussie", "succeeded"),
        "ingestion.job.failure": ("en échec", "failed"),
        "ingestion.never_polled": (
            "Les dossiers surveillés n’ont pas encore été lus par le service.",
            "The service has not polled the watched folders yet.",
        ),
        "ingestion.upload": ("Déposer un fichier", "Upload a file"),
        "ingestion.upload_help": (
            "Le fichier est enregistré sur le serveur puis ingéré\u00a0: les lignes "
            "déjà reçues ne sont pas ajoutées deux fois, les lignes invalides sont mises en "
            "quarantaine. Taille maximale\u00a0: {size}.",
            "The file is saved on the server, then ingested: rows already received are "
            "not added twice, invalid rows are quarantined. Largest file: {size}.",
        ),
        "ingestion.upload.file": ("Fichier", "File"),
        "ingestion.upload.kind": ("Contenu du fichier", "What the file holds"),
        "ingestion.upload.source": ("Format des colonnes", "Column layout"),
        "ingestion.upload.canonical": ("CSV canonique", "canonical CSV"),
        "ingestion.upload.source_option": (
            "source « {name} » ({kind})",
            "source “{name}” ({kind})",
        ),
        "ingestion.upload.submit": ("Déposer et ingérer", "Upload and ingest"),
        "ingestion.task_label": ("Ingestion du fichier", "Ingesting the file"),
        "ingestion.task_open": ("Voir la passe", "Open the run"),
        "ingestion.task_failed": (
            "L’ingestion a échoué\u00a0: {error}",
            "Ingestion failed: {error}",
        ),
        "ingestion.task_unknown": (
            "Cette tâche n’est plus connue (le service a redémarré\u202f?)\u00a0: "
            "les passes ci-dessous montrent ce qui a été enregistré.",
            "This task is no longer known (was the service restarted?): the runs below "
            "show what was stored.",
        ),
        "ingestion.progress_counting": ("Comptage des lignes…", "Counting the lines…"),
        "ingestion.progress_rows": (
            "{done} ligne(s) sur {total} enregistrées",
            "{done} of {total} line(s) committed",
        ),
        "ingestion.result": (
            "Passe {id}\u00a0: {read} lue(s), {accepted} acceptée(s), {duplicate} "
            "doublon(s), {quarantined} en quarantaine.",
            "Run {id}: {read} read, {accepted} accepted, {duplicate} duplicate(s), "
            "{quarantined} quarantined.",
        ),
        "ingestion.facts": ("Détails de la passe", "Run details"),
        "ingestion.run_rows": (
            "Lignes en quarantaine de ce fichier",
            "Quarantined rows of this file",
        ),
        "ingestion.run_rows_caption": (
            "Lignes du fichier mises en quarantaine, par numéro de ligne",
            "Rows of the file put in quarantine, by line number",
        ),
        "ingestion.run_rows_more": (
            "Seules les {n} premières lignes sont montrées.",
            "Only the first {n} rows are shown.",
        ),
        "ingestion.viewer_rows": (
            "Le contenu des lignes est réservé au rôle qualité.",
            "The rows' content is shown to the quality role only.",
        ),
        "ingestion.reingest": ("Ré-ingérer le fichier corrigé", "Re-ingest the fixed file"),
        "ingestion.reingest_help": (
            "Corrigez les lignes en quarantaine dans le fichier {file}, puis relisez-le\u00a0: "
            "les lignes déjà enregistrées ne sont pas ajoutées deux fois, les lignes "
            "corrigées sont ajoutées.",
            "Fix the quarantined rows in the file {file}, then read it again: rows already "
            "stored are not added twice, the fixed rows are added.",
        ),
        "ingestion.reingest.submit": ("Ré-ingérer ce fichier", "Re-ingest this file"),
        "ingestion.file_moved": (
            "Le fichier a été déplacé dans {folder}/ par le service\u00a0: c’est ce fichier "
            "qui sera relu.",
            "The service moved the file into {folder}/: that file is read again.",
        ),
        "ingestion.file_missing": (
            "Le fichier {file} n’existe plus, ni à son emplacement d’origine ni dans "
            "processed/ ou failed/ à côté\u00a0: déposez le fichier corrigé depuis la "
            "page Ingestion.",
            "The file {file} no longer exists, neither where it was nor in processed/ or "
            "failed/ beside it: upload the fixed file from the Ingestion page.",
        ),
        "ingestion.back": ("Retour aux passes d’ingestion", "Back to the ingestion runs"),
        "ingestion.error.no_key": (
            "La clé de pseudonymisation n’est pas configurée pour ce service\u00a0: "
            "définissez la variable d’environnement nommée par pseudonymisation.key_env "
            "(par défaut DMN_MONITOR_PSEUDONYM_KEY) et redémarrez le service.",
            "The pseudonymisation key is not set for this service: set the environment "
            "variable named by pseudonymisation.key_env (default DMN_MONITOR_PSEUDONYM_KEY) "
            "and restart the service.",
        ),
        "ingestion.error.kind": (
            "Choisissez ce que contient le fichier\u00a0: prédictions ou vérités terrain.",
            "Choose what the file holds: predictions or outcomes.",
        ),
        "ingestion.error.no_file": (
            "Choisissez un fichier à déposer.",
            "Choose a file to upload.",
        ),
        "ingestion.error.empty": (
            "Le fichier déposé est vide.",
            "The uploaded file is empty.",
        ),
        "ingestion.error.unknown_source": (
            "La source « {name} » n’est pas configurée.",
            "The source “{name}” is not configured.",
        ),
        "ingestion.error.source_kind": (
            "La source « {name} » contient des {source_kind}, pas des {kind}\u00a0: "
            "choisissez une autre source ou l’autre contenu.",
            "The source “{name}” holds {source_kind}, not {kind}: choose another source "
            "or the other kind.",
        ),
    }
)


# --- files ---------------------------------------------------------------------------


def upload_dir(config: Config) -> Path:
    """``console.upload_dir`` (relative to the configuration's folder unless absolute),
    created owner-only when missing."""
    folder = Path(config.console.upload_dir).expanduser()
    if not folder.is_absolute():
        folder = config.base_dir / folder
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def locate_file(source_path: str) -> Path | None:
    """Where a run's file is now: its stored path, else ``processed/`` or ``failed/``
    beside it (where the watcher moves files); None when it is in none of them."""
    path = Path(source_path)
    for candidate in (path, path.parent / PROCESSED / path.name, path.parent / FAILED / path.name):
        if candidate.is_file():
            return candidate
    return None


def count_lines(path: Path) -> int:
    """The file's number of lines (a last line without a line break counts); 0 if empty."""
    lines, last = 0, b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (1 if last not in (b"", b"\n") else 0)


def _save_upload(config: Config, upload: UploadFile, kind: str) -> tuple[Path, str]:
    """Copy the upload into :func:`upload_dir` under a generated name keeping its
    extension; returns the saved path and the user's file name (base name only)."""
    original = Path((upload.filename or "").replace("\\", "/")).name[:200]
    suffix = Path(original).suffix.lower()
    if not _SUFFIX.fullmatch(suffix):
        suffix = ""
    name = f"{kind}-{utc_now():%Y%m%dT%H%M%S}-{secrets.token_hex(6)}{suffix}"
    target = upload_dir(config) / name
    upload.file.seek(0)
    with target.open("xb") as handle:
        shutil.copyfileobj(upload.file, handle, 1 << 20)
    return target, original


# --- sources and rows ----------------------------------------------------------------


def _named_source(config: Config, name: str | None) -> SourceConfig | None:
    return next((s for s in config.sources if name is not None and s.name == name), None)


def _run_source(config: Config, run: IngestionRun) -> SourceConfig | None:
    """The configured source whose mapping reads the run's file: the one it names, else
    (runs of the command line without a name) the one whose glob matches its path."""
    named = _named_source(config, run.source_name)
    if named is not None:
        return named if named.kind == run.kind else None
    if run.source_name is None:
        return find_source(config, Path(run.source_path), run.kind)
    return None  # uploads (console:<user>) and pushes (api:<token>) are canonical


def _mapping(config: Config, source: SourceConfig | None) -> SourceMapping:
    return mapping_for(source, config.time.timezone, config.base_dir, read_limits(config))


def shown_fields(raw: dict[str, Any], mapping: SourceMapping) -> list[tuple[str, str]]:
    """The ``(column, value)`` of a quarantined raw row a quality user may see: only the
    columns of :data:`SHOWN_COLUMNS` (under the source's names), in the row's order."""
    hidden = {mapping.source_column(c) for c in IDENTIFYING} | set(IDENTIFYING)
    allowed = {mapping.source_column(c) for c in SHOWN_COLUMNS} - hidden
    return [(str(k), "" if v is None else str(v)[:200]) for k, v in raw.items() if k in allowed]


def clean_reason(reason: str, raw: dict[str, Any], mapping: SourceMapping) -> str:
    """``reason`` with the values of the row's identifying columns cut out."""
    for canonical in IDENTIFYING:
        value = raw.get(mapping.source_column(canonical))
        if value is not None and len(str(value).strip()) >= 2:
            reason = reason.replace(str(value).strip(), "…")
    return reason


def _short_error(error: str | None, source_path: str) -> str | None:
    """A run's error naming its file by base name only."""
    if not error:
        return error
    path = Path(source_path)
    return error.replace(str(path), path.name).replace(str(path.parent) + "/", "")


# --- ingestion with progress ---------------------------------------------------------


def ingest_with_progress(
    api: ApiState,
    path: Path,
    kind: Kind,
    source: SourceConfig | None,
    progress: Progress,
    *,
    source_name: str | None,
    lang: str,
) -> IngestReport:
    """Ingest ``path`` as the command line does (the source's mapping and format, else
    canonical with the format read from the content), reporting progress as committed
    lines of the file's line count. File-level errors name the file by base name."""
    config = api.config
    progress(0, 0, translate("ingestion.progress_counting", lang))
    total = max(count_lines(path), 1)
    progress(0, total, translate("ingestion.progress_counting", lang))

    def on_chunk(run: IngestionRun) -> None:
        done = min(run.last_line, total)
        fields = {"done": tx.number(done, lang), "total": tx.number(total, lang)}
        progress(done, total, translate("ingestion.progress_rows", lang, **fields))

    try:
        return ingest_file(
            api.summarised_db(),
            path,
            kind,
            mapping=_mapping(config, source),
            source_name=source_name,
            chunk_size=config.ingest.chunk_size,
            keep_report_text=config.ingest.keep_report_text,
            pseudonym_key=api.pseudonym_key,
            fmt=source.format if source is not None else "auto",
            on_chunk=on_chunk,
        )
    except IngestError as exc:
        message = _short_error(str(exc), str(path)) or str(exc)
        raise type(exc)(message, line=exc.line) from exc


def _counts(report: IngestReport) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "status": report.status,
        "read": report.rows_read,
        "accepted": report.accepted,
        "duplicate": report.duplicate,
        "quarantined": report.quarantined,
    }


def _result_message(counts: dict[str, Any], lang: str) -> str:
    fields = {
        name: tx.number(counts[name], lang)
        for name in ("read", "accepted", "duplicate", "quarantined")
    }
    return translate("ingestion.result", lang, id=counts["run_id"], **fields)


def _result(report: IngestReport, lang: str) -> dict[str, Any]:
    counts = _counts(report)
    message = _result_message(counts, lang)
    return {"redirect": f"/ingestion/runs/{report.run_id}", "message": message, **counts}


def _audited_ingestion(
    api: ApiState,
    *,
    actor: str,
    action: str,
    entity_id: str,
    details: dict[str, Any],
    ingest: Callable[[], IngestReport],
    lang: str,
) -> dict[str, Any]:
    """Run ``ingest`` and record it in the audit log, whether it worked or failed."""
    try:
        report = ingest()
    except MonitorError as exc:
        with api.db.session.begin() as session:
            audit.record(
                session,
                actor=actor,
                action=action,
                entity="ingestion_run",
                entity_id=entity_id,
                details={**details, "status": "failed", "error": str(exc)[:1000]},
            )
        raise
    with api.db.session.begin() as session:
        audit.record(
            session,
            actor=actor,
            action=action,
            entity="ingestion_run",
            entity_id=str(report.run_id),
            details={**details, **_counts(report)},
        )
    return _result(report, lang)


# --- page data -----------------------------------------------------------------------


def _labels(lang: str, prefix: str, value: str) -> str:
    try:
        return translate(f"ingestion.{prefix}.{value}", lang)
    except KeyError:
        return value


def _run_view(run: IngestionRun, lang: str) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": _labels(lang, "kind", run.kind),
        "source": run.source_name or "",
        "file": Path(run.source_path).name,
        "started": run.started_at,
        "finished": run.finished_at,
        "status": run.status,
        "status_label": _labels(lang, "status", run.status),
        "read": run.rows_read,
        "accepted": run.rows_accepted,
        "duplicate": run.rows_duplicate,
        "quarantined": run.rows_quarantined,
        "error": _short_error(run.error, run.source_path),
    }


def _reason_summary(api: ApiState, lang: str) -> tuple[list[dict[str, Any]], int]:
    """The most frequent quarantine reasons (quoted values hidden) and the total."""
    counter: Counter[tuple[str, str]] = Counter()
    with api.db.session() as session:
        rows = session.execute(
            select(QuarantinedRow.kind, QuarantinedRow.reason, func.count())
            .group_by(QuarantinedRow.kind, QuarantinedRow.reason)
            .order_by(func.count().desc())
            .limit(5000)
        ).all()
        total = session.scalar(select(func.count()).select_from(QuarantinedRow)) or 0
    for kind, reason, count in rows:
        counter[(kind, _QUOTED.sub("'…'", reason))] += count
    summary = [
        {"kind": _labels(lang, "kind", kind), "reason": reason, "count": count}
        for (kind, reason), count in counter.most_common(REASONS_SHOWN)
    ]
    return summary, total


def _unmatched(api: ApiState) -> list[UnmatchedOutcomes]:
    """The outcomes of the last 12 months (to now) that match no prediction, newest
    month first (:func:`monitor.input_checks.unmatched_outcomes`)."""
    now = utc_now()
    local = now.astimezone(api.tz).date()
    first = date(local.year - (1 if local.month < 12 else 0), local.month % 12 + 1, 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=api.tz)
    with api.db.session() as session:
        rows = unmatched_outcomes(session, now, api.tz, since=since)
    return sorted(rows, key=lambda r: r.month, reverse=True)


def _task(request: Request, login: Login, lang: str) -> dict[str, Any] | None:
    """The state of the ``?task=`` of the page (this user's only): its status
    (running, done, failed, unknown), id, error, and the page and message of its result."""
    task_id = request.query_params.get("task", "")[:100]
    if not task_id:
        return None
    snapshot = request.app.state.console.tasks.snapshot(task_id, login.username)
    if snapshot is None:
        return {"id": task_id, "status": "unknown", "error": "", "link": "", "message": ""}
    result = snapshot.get("result") or {}
    link = result.get("redirect")
    message = str(result.get("message") or "")
    if isinstance(result.get("run_id"), int) and isinstance(result.get("read"), int):
        message = _result_message(result, lang)  # in the page's language
    return {
        "id": task_id,
        "status": snapshot["status"],
        "error": snapshot.get("error") or "",
        "link": link if isinstance(link, str) and link.startswith("/ingestion/") else "",
        "message": message,
    }


def _poll_view(job: JobRun, lang: str) -> dict[str, Any]:
    """The last run of the ``ingest`` job: when, its status, the files it handled."""
    details = job.details or {}
    files = (
        translate(
            "ingestion.last_poll_files",
            lang,
            ingested=tx.number(int(details.get("ingested") or 0), lang),
            failed=tx.number(int(details.get("failed") or 0), lang),
        )
        if "ingested" in details
        else ""
    )
    return {"at": job.started_at, "status": _labels(lang, "job", job.status), "files": files}


def _overview(
    request: Request, login: Login, *, error: str | None = None, status_code: int = 200
) -> Response:
    api: ApiState = request.app.state.console.api
    config = api.config
    lang = language(request, login)
    with api.db.session() as session:
        runs = session.scalars(
            select(IngestionRun).order_by(IngestionRun.id.desc()).limit(RUNS_SHOWN)
        ).all()
        last_poll = session.scalars(
            select(JobRun).where(JobRun.job == INGEST_JOB).order_by(JobRun.started_at.desc())
        ).first()
        run_views = [_run_view(run, lang) for run in runs]
        poll = None if last_poll is None else _poll_view(last_poll, lang)
    reasons, total = _reason_summary(api, lang)
    unmatched = _unmatched(api)
    sources = [
        {
            "name": s.name,
            "kind": s.kind,
            "kind_label": _labels(lang, "kind", s.kind),
            "format": s.format,
            "pattern": s.path,
        }
        for s in config.sources
    ]
    context = {
        "runs": run_views,
        "runs_shown": RUNS_SHOWN,
        "reasons": reasons,
        "reasons_shown": REASONS_SHOWN,
        "quarantine_total": total,
        "unmatched": unmatched,
        "sources": sources,
        "last_poll": poll,
        "task": _task(request, login, lang),
        "error": error,
        "kinds": [(k, _labels(lang, "kind", k)) for k in KINDS],
        "max_upload": _size(config.console.max_upload_bytes, lang),
        "key_missing": api.pseudonym_key is None,
    }
    return page(
        request, login, "ingestion.html", context, title="ingestion.title", status_code=status_code
    )


def _size(n: int, lang: str) -> str:
    """A size in megabytes ("1 000 Mo" / "1,000 MB")."""
    megabytes = n / 1_000_000
    unit = "Mo" if lang == "fr" else "MB"
    return f"{tx.decimal(megabytes, lang, 0 if megabytes >= 10 else 1)}{tx.NBSP}{unit}"


def _load_run(api: ApiState, login: Login, run_id: int) -> IngestionRun:
    with api.db.session() as session:
        run = session.get(IngestionRun, run_id)
        if run is None:
            raise PageNotFound(login, f"no ingestion run {run_id}")
        session.expunge(run)
    return run


def _run_page(
    request: Request,
    login: Login,
    run_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    api: ApiState = request.app.state.console.api
    lang = language(request, login)
    run = _load_run(api, login, run_id)
    try:
        mapping = _mapping(api.config, _run_source(api.config, run))
    except MonitorError:
        mapping = _mapping(api.config, None)
    with api.db.session() as session:
        stored = session.execute(
            select(QuarantinedRow.line_number, QuarantinedRow.reason, QuarantinedRow.raw_row)
            .where(QuarantinedRow.checksum == run.checksum, QuarantinedRow.kind == run.kind)
            .order_by(QuarantinedRow.line_number, QuarantinedRow.id)
            .limit(ROWS_SHOWN + 1)
        ).all()
    quality = login.role in ("quality", "admin")
    rows = [
        {
            "line": line,
            "reason": clean_reason(reason, raw or {}, mapping),
            "fields": shown_fields(raw or {}, mapping) if quality else [],
        }
        for line, reason, raw in stored[:ROWS_SHOWN]
    ]
    found = locate_file(run.source_path)
    moved = None if found is None or found == Path(run.source_path) else found.parent.name
    context = {
        "run": _run_view(run, lang),
        "rows": rows,
        "more_rows": len(stored) > ROWS_SHOWN,
        "rows_shown": ROWS_SHOWN,
        "file_found": found is not None,
        "moved_to": moved,
        "task": _task(request, login, lang),
        "error": error,
    }
    return page(
        request,
        login,
        "ingestion_run.html",
        context,
        title="ingestion.run_title",
        status_code=status_code,
    )


# --- routes --------------------------------------------------------------------------


@router.get("/ingestion", include_in_schema=False)
def ingestion_page(request: Request, login: ViewerLogin) -> Response:
    """Recent runs, quarantine reasons, configured sources, and the upload form."""
    return _overview(request, login)


@router.get("/ingestion/runs/{run_id}", include_in_schema=False)
def run_page(run_id: int, request: Request, login: ViewerLogin) -> Response:
    """One run and the quarantined rows of its file."""
    return _run_page(request, login, run_id)


@router.post("/ingestion/runs/{run_id}/reingest", include_in_schema=False)
def reingest(run_id: int, request: Request, posted: QualityPost) -> Response:
    """Read the run's file again (after the user fixed it) in a console task."""
    login = posted.login
    api: ApiState = request.app.state.console.api
    lang = language(request, login)
    run = _load_run(api, login, run_id)
    if api.pseudonym_key is None:
        message = translate("ingestion.error.no_key", lang)
        return _run_page(request, login, run_id, error=message, status_code=409)
    path = locate_file(run.source_path)
    if path is None:
        name = Path(run.source_path).name
        message = translate("ingestion.file_missing", lang, file=name)
        return _run_page(request, login, run_id, error=message, status_code=409)
    try:
        source = _run_source(api.config, run)
    except MonitorError as exc:
        return _run_page(request, login, run_id, error=str(exc), status_code=409)
    kind: Kind = "predictions" if run.kind == "predictions" else "outcomes"
    source_name = run.source_name or (source.name if source is not None else None)
    details = {"from_run": run_id, "file": path.name, "kind": run.kind, "source": source_name}

    def work(progress: Progress) -> dict[str, Any]:
        return _audited_ingestion(
            api,
            actor=login.actor,
            action="console.reingest",
            entity_id=str(run_id),
            details=details,
            ingest=lambda: ingest_with_progress(
                api, path, kind, source, progress, source_name=source_name, lang=lang
            ),
            lang=lang,
        )

    task_id = request.app.state.console.tasks.start("reingest", login.username, work)
    return RedirectResponse(f"/ingestion/runs/{run_id}?task={task_id}", status_code=303)


@router.post("/ingestion/upload", include_in_schema=False)
def upload(request: Request, posted: QualityPost) -> Response:
    """Save an uploaded file in ``console.upload_dir`` and ingest it in a console task."""
    try:
        return _upload(request, posted)
    finally:
        for value in posted.form.values():
            if isinstance(value, UploadFile):
                value.file.close()


def _upload(request: Request, posted: Posted) -> Response:
    login = posted.login
    api: ApiState = request.app.state.console.api
    config = api.config
    lang = language(request, login)

    def refused(key: str, status_code: int = 400, **fields: object) -> Response:
        message = translate(key, lang, **fields)
        return _overview(request, login, error=message, status_code=status_code)

    if api.pseudonym_key is None:
        return refused("ingestion.error.no_key", 409)
    kind_text = posted.text("kind")
    if kind_text not in KINDS:
        return refused("ingestion.error.kind")
    kind: Kind = "predictions" if kind_text == "predictions" else "outcomes"
    source_name = posted.text("source", max_length=200)
    source = _named_source(config, source_name) if source_name else None
    if source_name and source is None:
        return refused("ingestion.error.unknown_source", name=source_name)
    if source is not None and source.kind != kind:
        return refused(
            "ingestion.error.source_kind",
            name=source.name,
            source_kind=_labels(lang, "kind", source.kind),
            kind=_labels(lang, "kind", kind),
        )
    file = posted.form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return refused("ingestion.error.no_file")
    path, original = _save_upload(config, file, kind)
    if path.stat().st_size == 0:
        path.unlink()
        return refused("ingestion.error.empty")
    run_source = source.name if source is not None else f"console:{login.username}"
    details = {
        "file": original,
        "stored_as": path.name,
        "kind": kind,
        "source": source.name if source is not None else "canonical",
    }

    def work(progress: Progress) -> dict[str, Any]:
        return _audited_ingestion(
            api,
            actor=login.actor,
            action="console.upload",
            entity_id=path.name,
            details=details,
            ingest=lambda: ingest_with_progress(
                api, path, kind, source, progress, source_name=run_source, lang=lang
            ),
            lang=lang,
        )

    task_id = request.app.state.console.tasks.start("upload", login.username, work)
    return RedirectResponse(f"/ingestion?task={task_id}", status_code=303)
