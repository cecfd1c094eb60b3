"""Console pages: the monthly review.

``/months`` lists the months that have data (first to last month with a prediction),
newest first, with whether their report is written, their signatures and their lock.
``/months/YYYY-MM`` shows a month's report files (served by
``/months/YYYY-MM/files/NAME``), the devices' lights from its manifest and its sign-off;
quality users write the report there (a console task) and named reviewers sign it
(:mod:`monitor.signoff`). A locked month takes neither.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor import report_texts as tx
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.models import MonthLock, MonthSignoff, Prediction
from monitor.registry import list_devices
from monitor.report_data import month_bounds
from monitor.report_job import report_dir, write_monthly_report
from monitor.signoff import (
    MAX_COMMENT_LENGTH,
    month_files,
    month_lock,
    reviewer_for,
    sign_month,
    signoff_state,
)
from monitor.timeutil import utc_now
from monitor.users import get_user
from monitor.web.auth import QualityPost, ViewerLogin
from monitor.web.i18n import register, translate
from monitor.web.render import PageNotFound, language, page
from monitor.web.sessions import Login
from monitor.web.tasks import Progress

__all__ = ["data_months", "router"]

router = APIRouter()

_MONTH: Final = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RENDERING: Final = re.compile(r"-(fr|en)\.(html|pdf)$")
_DONE: Final = ("report", "signed")

_REPORT_CSP: Final = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The monthly report's HTML: its own styles and data: images, no script; sandboxed
(an opaque origin: it cannot read the console)."""

_DRIFT_CSP: Final = (
    "sandbox allow-scripts; default-src 'none'; img-src data:; font-src data:; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Evidently's drift report runs its inlined scripts, in a sandbox (opaque origin,
no request anywhere)."""

register(
    {
        "months.title": ("Revue mensuelle", "Monthly review"),
        "months.month_title": ("Revue mensuelle\u00a0: {month}", "Monthly review: {month}"),
        "months.intro": (
            "Les mois qui ont des données, du plus récent au plus ancien. Chaque mois, le "
            "rapport qualité est écrit puis signé par chaque relecteur nommé\u00a0; avec la "
            "dernière signature, le mois est verrouillé.",
            "The months that have data, newest first. Each month the quality report is "
            "written, then signed by every named reviewer; with the last signature the "
            "month is locked.",
        ),
        "months.none": ("Aucune donnée pour l'instant.", "No data yet."),
        "months.table": ("Mois et état de leur revue", "Months and the state of their review"),
        "months.col.month": ("Mois", "Month"),
        "months.col.report": ("Rapport", "Report"),
        "months.col.lights": ("Voyants", "Lights"),
        "months.col.signatures": ("Signatures", "Signatures"),
        "months.col.lock": ("Verrou", "Lock"),
        "months.written": ("écrit", "written"),
        "months.not_written": ("non écrit", "not written"),
        "months.signed_n": ("{n} sur {m}", "{n} of {m}"),
        "months.open": ("ouvert", "open"),
        "months.locked_short": ("verrouillé le {day} par {names}", "locked on {day} by {names}"),
        "months.no_reviewers": (
            "Aucun relecteur n'est nommé ([report] reviewers)\u00a0: personne ne peut signer.",
            "No reviewer is named ([report] reviewers): nobody can sign.",
        ),
        "months.back": ("Tous les mois", "All months"),
        "months.locked_banner": (
            "Verrouillé le {moment} par {names}\u00a0: la revue de ce mois est signée, son "
            "rapport n'est plus réécrit.",
            "Locked on {moment} by {names}: this month's review is signed; its report is "
            "no longer rewritten.",
        ),
        "months.files_differ": (
            "Attention\u00a0: les fichiers du dossier des rapports ne sont plus ceux qui ont été "
            "signés (leurs SHA-256 sont dans le journal d'audit, action report.lock).",
            "Warning: the files in the report folder are no longer those that were signed "
            "(their SHA-256 are in the audit log, action report.lock).",
        ),
        "months.report": ("Rapport du mois", "The month's report"),
        "months.no_report": (
            "Le rapport de ce mois n'est pas encore écrit.",
            "This month's report has not been written yet.",
        ),
        "months.files": ("Fichiers du rapport", "Report files"),
        "months.col.file": ("Fichier", "File"),
        "months.col.language": ("Langue", "Language"),
        "months.col.size": ("Taille", "Size"),
        "months.col.open": ("Ouvrir", "Open"),
        "months.kilobytes": ("{n} ko", "{n} kB"),
        "months.kind.report_html": ("rapport (HTML)", "report (HTML)"),
        "months.kind.report_pdf": ("rapport (PDF)", "report (PDF)"),
        "months.kind.manifest": ("manifeste des chiffres (JSON)", "manifest of figures (JSON)"),
        "months.kind.drift": ("rapport de dérive (HTML)", "drift report (HTML)"),
        "months.kind.other": ("fichier", "file"),
        "months.lang.fr": ("français", "French"),
        "months.lang.en": ("anglais", "English"),
        "months.view": ("Afficher {name}", "View {name}"),
        "months.download": ("Télécharger {name}", "Download {name}"),
        "months.generate": ("Écrire le rapport du mois", "Write the report for this month"),
        "months.generate.help": (
            "Calcule les chiffres du mois et écrit le rapport ({langs}\u00a0; {formats}) dans le "
            "dossier des rapports, en remplaçant celui qui existe. Cela prend environ une "
            "minute.",
            "Computes the month's figures and writes the report ({langs}; {formats}) into "
            "the report folder, replacing the existing one. This takes about a minute.",
        ),
        "months.generate.signed_warning": (
            "{n} relecteur(s) ont déjà signé ce rapport\u00a0: s'il est réécrit, les suivants "
            "ne pourront signer qu'une fois les fichiers signés remis en place.",
            "{n} reviewer(s) signed this report already: if it is rewritten, the others "
            "cannot sign until the signed files are put back.",
        ),
        "months.generate.submit": ("Écrire le rapport", "Write the report"),
        "months.task.label": ("Écriture du rapport", "Writing the report"),
        "months.task.done": (
            "Rapport de {month} écrit\u00a0: {n} fichier(s).",
            "Report for {month} written: {n} file(s).",
        ),
        "months.task.failed": (
            "L'écriture du rapport a échoué\u00a0: {error}",
            "Writing the report failed: {error}",
        ),
        "months.step.gather": ("Calcul des chiffres du mois…", "Gathering the month's figures…"),
        "months.step.render": (
            "Rédaction du rapport en {language}…",
            "Writing the {language} report…",
        ),
        "months.step.manifest": ("Écriture du manifeste…", "Writing the manifest…"),
        "months.done.report": ("Le rapport est écrit.", "The report is written."),
        "months.done.signed": ("Votre signature est enregistrée.", "Your signature is recorded."),
        "months.lights": ("Voyants par dispositif", "Lights per device"),
        "months.lights.none": (
            "Les voyants apparaissent quand le rapport est écrit.",
            "The lights appear once the report is written.",
        ),
        "months.lights.table": (
            "Voyant de chaque dispositif ce mois-ci",
            "Each device's light this month",
        ),
        "months.col.device": ("Dispositif", "Device"),
        "months.col.light": ("Voyant", "Light"),
        "months.signoff": ("Validation", "Sign-off"),
        "months.signoff.table": ("Signatures des relecteurs", "The reviewers' signatures"),
        "months.col.reviewer": ("Relecteur", "Reviewer"),
        "months.col.signed": ("Signé", "Signed"),
        "months.col.by": ("Par", "By"),
        "months.col.when": ("Le", "When"),
        "months.col.comment": ("Commentaire", "Comment"),
        "months.signed": ("signé", "signed"),
        "months.unsigned": ("non signé", "not signed"),
        "months.sign": ("Signer en tant que {reviewer}", "Sign as {reviewer}"),
        "months.sign.comment": ("Commentaire (facultatif)", "Comment (optional)"),
        "months.sign.read": ("J'ai lu le rapport", "I have read the report"),
        "months.sign.submit": ("Signer la revue du mois", "Sign the month's review"),
        "months.sign.not_reviewer": (
            "Votre compte ({name}) n'est pas un des relecteurs nommés\u00a0: seuls eux signent.",
            "Your account ({name}) is not one of the named reviewers: only they sign.",
        ),
        "months.sign.already": ("Vous avez signé ce mois.", "You have signed this month."),
        "months.sign.no_report": (
            "Le rapport doit être écrit avant d'être signé.",
            "The report must be written before it is signed.",
        ),
        "months.sign.not_over": (
            "Ce mois n'est pas terminé\u00a0: il se signe une fois fini.",
            "This month is not over: it is signed once it has ended.",
        ),
        "months.error.read": (
            "Cochez «\u00a0J'ai lu le rapport\u00a0» pour signer.",
            'Tick "I have read the report" to sign.',
        ),
        "months.error.refused": (
            "Signature refusée\u00a0: {message}",
            "Signature refused: {message}",
        ),
        "months.error.not_reviewer": (
            "Signature refusée\u00a0: votre compte ({name}) n'est pas un des relecteurs nommés "
            "dans [report] reviewers ({reviewers})\u00a0; seuls eux signent la revue.",
            "Signature refused: your account ({name}) is not one of the reviewers named in "
            "[report] reviewers ({reviewers}); only they sign the review.",
        ),
        "months.error.locked": (
            "Le mois est verrouillé\u00a0: son rapport n'est plus réécrit.",
            "The month is locked: its report is no longer rewritten.",
        ),
    }
)


# --- months --------------------------------------------------------------------------------


def _first_of(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date().replace(day=1)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def data_months(session: Session, tz: ZoneInfo, now: datetime | None = None) -> list[date]:
    """First days of the local months from the first to the last with a prediction (exams
    up to ``now``, default now), oldest first; empty without predictions."""
    moment = now or utc_now()
    first, last = session.execute(
        select(func.min(Prediction.exam_datetime), func.max(Prediction.exam_datetime)).where(
            Prediction.exam_datetime <= moment
        )
    ).one()
    if first is None or last is None:
        return []
    months, month, end = [], _first_of(first, tz), _first_of(last, tz)
    while month <= end:
        months.append(month)
        month = _next(month)
    return months


def _month(login: Login, session: Session, tz: ZoneInfo, text: str) -> date:
    """The month ``YYYY-MM`` of a path; PageNotFound when malformed or without data."""
    found = _MONTH.fullmatch(text)
    month = date(int(found.group(1)), int(found.group(2)), 1) if found else None
    if month is None or month not in data_months(session, tz):
        raise PageNotFound(login, f"no month {text[:20]!r} with data: /months lists them")
    return month


def _read_manifest(path: Path | None) -> dict[str, Any]:
    """A report's manifest document ({} when absent or unreadable)."""
    if path is None:
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _lights(names: dict[str, str], manifest: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """Each device's light in the manifest (``names``: device id -> name), in words."""
    lights = manifest.get("lights")
    if not isinstance(lights, dict):
        return []
    rows = []
    for device, color in sorted(lights.items()):
        known = str(color) if color in tx.LIGHT_WORDS else "grey"
        rows.append(
            {
                "device": str(device),
                "name": names.get(str(device), str(device)),
                "color": known,
                "word": tx.term(tx.LIGHT_WORDS, known, lang),
            }
        )
    return rows


def _device_names(session: Session) -> dict[str, str]:
    return {d.id: d.name for d in list_devices(session)}


def _manifest_path(folder: Path, month: date, single: str | None) -> Path | None:
    """The manifest of the whole-establishment report of ``month`` in ``folder`` (named
    after the device in a registry of one, as :func:`month_files` finds it), None while
    the report is not written; the files are not hashed."""
    stems = [f"qc-report-{month:%Y-%m}"] + ([f"qc-report-{month:%Y-%m}-{single}"] if single else [])
    paths = [folder / f"{stem}-manifest.json" for stem in stems]
    return next((path for path in paths if path.is_file()), None)


@router.get("/months")
def months_page(request: Request, login: ViewerLogin) -> Response:
    """The months with data, newest first, and where their review stands."""
    api = request.app.state.console.api
    config, tz = api.config, api.tz
    reviewers = set(config.report.reviewers)
    folder = report_dir(config)
    lang = language(request, login)
    rows = []
    with api.db.session() as session:
        names = _device_names(session)
        single = next(iter(names)) if len(names) == 1 else None
        signed: dict[date, set[str]] = {}
        for month, line in session.execute(select(MonthSignoff.month, MonthSignoff.reviewer)):
            signed.setdefault(month, set()).add(line)
        locks = {lock.month: lock for lock in session.scalars(select(MonthLock))}
        for month in reversed(data_months(session, tz)):
            lock = locks.get(month)
            manifest = _manifest_path(folder, month, single)
            rows.append(
                {
                    "id": f"{month:%Y-%m}",
                    "month": month,
                    "written": manifest is not None,
                    "lights": _lights(names, _read_manifest(manifest), lang),
                    "signed": len(signed.get(month, set()) & reviewers),
                    "locked_at": lock.locked_at if lock else None,
                    "locked_by": lock.locked_by if lock else None,
                }
            )
    return page(
        request,
        login,
        "months.html",
        {"rows": rows, "reviewers": len(reviewers)},
        title="months.title",
    )


# --- one month ----------------------------------------------------------------------------


def _file_entry(folder: Path, month_id: str, name: str) -> dict[str, Any]:
    rendering = _RENDERING.search(name)
    if rendering is not None:
        kind, file_lang = f"report_{rendering.group(2)}", rendering.group(1)
    elif name.endswith("-manifest.json"):
        kind, file_lang = "manifest", None
    elif name.endswith("-drift.html"):
        kind, file_lang = "drift", None
    else:
        kind, file_lang = "other", None
    path = folder / name
    return {
        "name": name,
        "kind": kind,
        "lang": file_lang,
        "kilobytes": max(1, round(path.stat().st_size / 1024)) if path.is_file() else 0,
        "href": f"/months/{month_id}/files/{name}",
        "opens": name.endswith(".html"),
    }


_ORDER: Final = {"report_html": 0, "report_pdf": 1, "drift": 2, "manifest": 3, "other": 4}


def _sign_status(
    session: Session, login: Login, config: Config, slots: list[dict[str, Any]], *, ready: bool
) -> tuple[str | None, str | None]:
    """(what the sign-off block offers this user, their reviewer line): "form", or why
    not ("not_reviewer", "already", "no_report", "not_over"); None for a viewer."""
    if login.role == "viewer":
        return None, None
    line = reviewer_for(config, get_user(session, login.username))
    if line is None:
        return "not_reviewer", None
    if any(s["reviewer"] == line and s["signed"] for s in slots):
        return "already", line
    return ("form" if ready else "no_report"), line


def _month_page(
    request: Request,
    login: Login,
    month_text: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    console = request.app.state.console
    api = console.api
    config, tz = api.config, api.tz
    lang = language(request, login)
    folder = report_dir(config)
    with api.db.session() as session:
        month = _month(login, session, tz, month_text)
        month_id = f"{month:%Y-%m}"
        state = signoff_state(session, config, month)
        present = month_files(config, month, session=session) if state["locked"] else state["files"]
        files = sorted(
            (_file_entry(folder, month_id, name) for name in present),
            key=lambda f: (_ORDER[f["kind"]], f["lang"] != lang, f["name"]),
        )
        manifest = next((n for n in present if n.endswith("-manifest.json")), None)
        lights = _lights(
            _device_names(session), _read_manifest(folder / manifest if manifest else None), lang
        )
        ended = month_bounds(month, tz)[1] <= utc_now()
        written = manifest is not None
        sign, line = _sign_status(session, login, config, state["slots"], ready=written)
        if sign == "form" and not ended:
            sign = "not_over"
    if state["locked"]:
        sign = None
    task_id = request.query_params.get("task", "")
    task = console.tasks.snapshot(task_id, login.username) if task_id else None
    done = request.query_params.get("done")
    return page(
        request,
        login,
        "month.html",
        {
            "month": month,
            "month_id": month_id,
            "state": state,
            "files": files,
            "files_differ": state["locked"] and present != state["files"],
            "lights": lights,
            "sign": sign,
            "sign_line": line,
            "signed_count": sum(1 for s in state["slots"] if s["signed"]),
            "can_generate": login.role != "viewer" and not state["locked"],
            "langs": ", ".join(
                translate(f"months.lang.{x}", lang) for x in config.report.languages
            ),
            "formats": ", ".join(f.upper() for f in config.report.formats),
            "task": task if task is not None and task["kind"] == "report" else None,
            "done": done if done in _DONE else None,
            "error": error,
            "max_comment": MAX_COMMENT_LENGTH,
        },
        title="months.title",
        status_code=status_code,
    )


@router.get("/months/{month_text}")
def month_page(month_text: str, request: Request, login: ViewerLogin) -> Response:
    """A month's report files, lights and sign-off; the forms a quality user may use."""
    return _month_page(request, login, month_text)


@router.get("/months/{month_text}/files/{name}")
def month_file(month_text: str, name: str, request: Request, login: ViewerLogin) -> Response:
    """One file of the month's report (a name :func:`month_files` lists; nothing else):
    HTML opens in the browser under its own sandboxing policy, other files download."""
    api = request.app.state.console.api
    with api.db.session() as session:
        month = _month(login, session, api.tz, month_text)
        listed = month_files(api.config, month, session=session) if _NAME.fullmatch(name) else {}
    folder = report_dir(api.config).resolve()
    path = (folder / name).resolve() if name in listed else None
    if path is None or path.parent != folder or not path.is_file():
        raise PageNotFound(login, f"no file {name[:80]!r} in the report of {month:%Y-%m}")
    headers = {"Cache-Control": "no-store"}
    if path.suffix == ".html":
        headers["Content-Security-Policy"] = (
            _DRIFT_CSP if name.endswith("-drift.html") else _REPORT_CSP
        )
        return FileResponse(
            path,
            media_type="text/html; charset=utf-8",
            headers=headers,
            content_disposition_type="inline",
            filename=name,
        )
    media = {".pdf": "application/pdf", ".json": "application/json"}
    return FileResponse(
        path,
        media_type=media.get(path.suffix, "application/octet-stream"),
        headers=headers,
        filename=name,
    )


# --- actions --------------------------------------------------------------------------------


@router.post("/months/{month_text}/sign")
def sign(month_text: str, request: Request, posted: QualityPost) -> Response:
    """Sign the month's review as the user's reviewer line (:func:`sign_month`, audited
    ``report.signoff``, and ``report.lock`` with the last signature)."""
    login = posted.login
    api = request.app.state.console.api
    lang = language(request, login)
    if posted.text("read") != "yes":
        return _month_page(
            request, login, month_text, error=translate("months.error.read", lang), status_code=400
        )
    comment = posted.text("comment", max_length=MAX_COMMENT_LENGTH + 1000)
    refusal = None
    try:
        with api.db.session.begin() as session:
            month = _month(login, session, api.tz, month_text)
            user = get_user(session, login.username)
            if reviewer_for(api.config, user) is None:
                refusal = translate(
                    "months.error.not_reviewer",
                    lang,
                    name=login.actor,
                    reviewers="; ".join(api.config.report.reviewers) or "—",
                )
            else:
                sign_month(session, api.config, month, user=user, comment=comment or None)
    except MonitorError as exc:
        refusal = translate("months.error.refused", lang, message=str(exc))
    if refusal is not None:
        return _month_page(request, login, month_text, error=refusal, status_code=409)
    return RedirectResponse(f"/months/{month:%Y-%m}?done=signed", status_code=303)


def _step_text(step: str, lang: str) -> str:
    """A step of :func:`write_monthly_report` ("gather", "render:fr", "manifest") in words."""
    if step.startswith("render:"):
        code = step.removeprefix("render:")
        words = translate(f"months.lang.{code}", lang) if code in tx.LANGS else code
        return translate("months.step.render", lang, language=words)
    if step in ("gather", "manifest"):
        return translate(f"months.step.{step}", lang)
    return step


def _report_work(
    request: Request, login: Login, month: date, lang: str
) -> Callable[[Progress], dict[str, Any]]:
    api = request.app.state.console.api
    db, config, actor = api.db, api.config, login.actor
    month_id = f"{month:%Y-%m}"

    def work(progress: Progress) -> dict[str, Any]:
        written = write_monthly_report(
            db,
            config,
            month,
            out_dir=report_dir(config),
            langs=config.report.languages,
            formats=config.report.formats,
            user=actor,
            progress=lambda done, total, step: progress(done, total, _step_text(step, lang)),
        )
        count = len(written.files) + 1
        return {
            "redirect": f"/months/{month_id}?done=report",
            "message": translate(
                "months.task.done", lang, month=tx.month_name(month, lang), n=count
            ),
        }

    return work


@router.post("/months/{month_text}/generate")
def generate(month_text: str, request: Request, posted: QualityPost) -> Response:
    """Write the month's report in a console task (audited ``report.monthly`` by
    :func:`write_monthly_report`); refused (409) when the month is locked."""
    login = posted.login
    console = request.app.state.console
    api = console.api
    lang = language(request, login)
    with api.db.session() as session:
        month = _month(login, session, api.tz, month_text)
        locked = month_lock(session, month) is not None
    if locked:
        message = translate("months.error.locked", lang)
        return _month_page(request, login, month_text, error=message, status_code=409)
    task_id = console.tasks.start(
        "report", login.username, _report_work(request, login, month, lang)
    )
    return RedirectResponse(f"/months/{month:%Y-%m}?task={task_id}", status_code=303)
