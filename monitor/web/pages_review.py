"""Console pages: the case review queue and one case at a time.

``/review`` shows the queue's counts and progress for a filter (device, finding),
a link to the first pending case and the cases decided last. ``/review/case-<n>``
shows one case (its AI result, its outcome with the words it was read from) and two
forms: adjudicate (positive / negative, comment) and skip (comment), each leading
to the next pending case of the same filter. Quality role only: a viewer never sees
a case reference. Cases are named ``case-<n>``, never by an exam or patient number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.report_text import SECTIONS
from monitor import report_texts as tx
from monitor import review
from monitor.errors import MonitorError
from monitor.models import Device, Finding, Prediction, ReviewItem
from monitor.registry import DeviceSpec
from monitor.web.auth import QualityLogin, QualityPost
from monitor.web.i18n import register, translate
from monitor.web.render import PageNotFound, language, page
from monitor.web.sessions import Login

__all__ = ["method_words", "qualifier_words", "router", "section_words"]

router = APIRouter()

RECENT: Final = 10
"""How many decided cases the queue page lists."""

register(
    {
        "review.title": ("Revue des cas", "Case review"),
        "review.case_title": ("Revue d'un cas", "Case review"),
        "review.filters": ("Filtres", "Filters"),
        "review.filter_device": ("Dispositif", "Device"),
        "review.filter_finding": ("Constat", "Finding"),
        "review.filter_all_devices": ("Tous les dispositifs", "All devices"),
        "review.filter_all_findings": ("Tous les constats", "All findings"),
        "review.filter_apply": ("Filtrer la file", "Filter the queue"),
        "review.finding_option": (
            "Constat n°\u00a0{id} – {rule}, {device}",
            "Finding {id} – {rule}, {device}",
        ),
        "review.queue": ("File de revue", "Review queue"),
        "review.counts": ("État de la file", "Queue state"),
        "review.pending": ("En attente", "Pending"),
        "review.adjudicated": ("Décidés", "Adjudicated"),
        "review.skipped": ("Passés", "Skipped"),
        "review.progress": ("Avancement", "Progress"),
        "review.progress_words": (
            "{done} cas traités sur {total} ({share})",
            "{done} of {total} cases decided ({share})",
        ),
        "review.empty": (
            "Aucun cas dans la file pour ce filtre.",
            "No case in the queue for this filter.",
        ),
        "review.start": ("Commencer la revue", "Start reviewing"),
        "review.start_hint": (
            "Premier cas en attente\u00a0: {case}",
            "First pending case: {case}",
        ),
        "review.none_pending": (
            "Aucun cas en attente pour ce filtre.",
            "No pending case for this filter.",
        ),
        "review.finished": (
            "File terminée\u00a0: plus aucun cas en attente pour ce filtre.",
            "Queue finished: no pending case is left for this filter.",
        ),
        "review.recent": ("Derniers cas traités", "Recently decided cases"),
        "review.recent_none": ("Aucun cas traité pour l'instant.", "No case decided yet."),
        "review.col_case": ("Cas", "Case"),
        "review.col_decision": ("Décision", "Decision"),
        "review.col_by": ("Par", "By"),
        "review.col_when": ("Le", "When"),
        "review.decision.positive": ("vérité positive", "outcome positive"),
        "review.decision.negative": ("vérité négative", "outcome negative"),
        "review.decision.indeterminate": ("indéterminé", "indeterminate"),
        "review.decision.skipped": ("passé", "skipped"),
        "review.position": ("Cas {n} sur {total}", "Case {n} of {total}"),
        "review.not_in_filter": (
            "Ce cas n'est pas dans la file de ce filtre.",
            "This case is not in the queue of this filter.",
        ),
        "review.back": ("Retour à la file", "Back to the queue"),
        "review.the_case": ("Le cas", "The case"),
        "review.device": ("Dispositif", "Device"),
        "review.version": ("Version", "Version"),
        "review.exam_day": ("Date de l'examen", "Exam date"),
        "review.site": ("Site", "Site"),
        "review.manufacturer": ("Constructeur de l'appareil", "Scanner manufacturer"),
        "review.ai_result": ("Résultat de l'IA", "AI result"),
        "review.ai_score": ("Score de l'IA", "AI score"),
        "review.score_threshold": (
            "{score} (seuil de fonctionnement\u00a0: {threshold})",
            "{score} (operating threshold: {threshold})",
        ),
        "review.no_score": ("pas de score", "no score"),
        "review.status": ("Statut", "Status"),
        "review.why": ("Pourquoi en revue", "Why it is queued"),
        "review.why_sample": (
            "échantillon des cas discordants",
            "sample of the discordant cases",
        ),
        "review.why_finding": ("constat n°\u00a0{id}", "finding {id}"),
        "review.why_none": (
            "pas dans la file de revue (affiché depuis un constat)",
            "not in the review queue (shown from a finding)",
        ),
        "review.queue_status": ("Dans la file", "In the queue"),
        "review.queue.pending": ("en attente", "pending"),
        "review.queue.adjudicated": ("décidé", "adjudicated"),
        "review.queue.skipped": ("passé", "skipped"),
        "review.decided_by": ("{status} par {who}", "{status} by {who}"),
        "review.outcome": ("Vérité terrain actuelle", "Current outcome"),
        "review.outcome_value": ("Résultat", "Outcome"),
        "review.outcome_source": ("Source", "Source"),
        "review.outcome_day": ("Date", "Date"),
        "review.outcome_method": ("Lu par", "Read by"),
        "review.outcome_pending": (
            "Pas encore de vérité terrain pour ce cas.",
            "No outcome known yet for this case.",
        ),
        "review.evidence": (
            "Passage du texte qui a décidé",
            "Words of the text that decided",
        ),
        "review.given_as_such": (
            "Résultat fourni tel quel par {source}.",
            "Outcome given as such by {source}.",
        ),
        "review.decide": ("Décision", "Decision"),
        "review.adjudicate": ("Trancher ce cas", "Adjudicate this case"),
        "review.adjudicate_legend": ("Vérité terrain selon vous", "The outcome as you judge it"),
        "review.adjudicate_positive": (
            "Positif (l'anomalie est présente)",
            "Positive (the finding is present)",
        ),
        "review.adjudicate_negative": (
            "Négatif (l'anomalie est absente)",
            "Negative (the finding is absent)",
        ),
        "review.adjudicate_submit": ("Enregistrer la décision", "Record the decision"),
        "review.adjudicate_note": (
            "Votre décision prime sur toute autre source de vérité terrain.",
            "Your decision outranks every other source of outcome.",
        ),
        "review.skip": ("Passer ce cas", "Skip this case"),
        "review.skip_note": (
            "Pour un cas que vous ne pouvez pas trancher maintenant.",
            "For a case you cannot decide now.",
        ),
        "review.skip_submit": ("Passer ce cas", "Skip this case"),
        "review.skip_unavailable": (
            "Seul un cas en attente dans la file peut être passé.",
            "Only a case pending in the queue can be skipped.",
        ),
        "review.done.adjudicated": (
            "{case}\u00a0: décision enregistrée ({decision}).",
            "{case}: decision recorded ({decision}).",
        ),
        "review.done.skipped": ("{case}\u00a0: cas passé.", "{case}: case skipped."),
        "review.error.comment": (
            "Le commentaire est obligatoire\u00a0: rien n'a été enregistré.",
            "The comment is required: nothing was recorded.",
        ),
        "review.error.outcome": (
            "Choisissez positif ou négatif\u00a0: rien n'a été enregistré.",
            "Choose positive or negative: nothing was recorded.",
        ),
        "review.error.refused": (
            "Action refusée\u00a0: {reason}",
            "Action refused: {reason}",
        ),
        "review.case_status.tp": ("vrai positif", "true positive"),
        "review.case_status.fp": ("faux positif", "false positive"),
        "review.case_status.tn": ("vrai négatif", "true negative"),
        "review.case_status.fn": ("faux négatif", "false negative"),
        "review.case_status.pending": ("en attente de vérité terrain", "awaiting its outcome"),
        "review.case_status.excluded": (
            "exclu (résultat indéterminé de l'IA)",
            "excluded (indeterminate AI result)",
        ),
        "review.result.positive": ("positif", "positive"),
        "review.result.negative": ("négatif", "negative"),
        "review.result.indeterminate": ("indéterminé", "indeterminate"),
        "review.source.report": ("le compte rendu", "the report"),
        "review.source.pathology": ("l'anatomopathologie", "pathology"),
        "review.source.follow_up": ("le suivi du patient", "follow-up"),
        "review.source.adjudication": ("la décision d'un relecteur", "a reviewer's adjudication"),
        "review.method.report_text": (
            "règles sur le texte du compte rendu",
            "rules on the report text",
        ),
        "review.method.pathology_code": (
            "code d'anatomopathologie ({system})",
            "pathology code ({system})",
        ),
        "review.method.pathology_text": (
            "règles sur le texte d'anatomopathologie",
            "rules on the pathology text",
        ),
        "review.method.adjudication": ("décision d'un relecteur", "a reviewer's decision"),
        "review.section.conclusion": ("conclusion", "conclusion"),
        "review.section.addendum": ("relecture / addendum", "addendum / re-reading"),
        "review.section.body": ("corps du texte", "body of the text"),
        "review.section.full_text": ("texte entier", "whole text"),
        "review.section.indication": ("indication", "indication"),
        "review.section.history": ("antécédents", "history"),
        "review.section.technique": ("technique", "technique"),
        "review.section.comparison": ("comparaison", "comparison"),
        "review.section.findings": ("résultats", "findings"),
        "review.sentence": ("Phrase qui a décidé", "Sentence that decided"),
        "review.sentence_in": (
            "Phrase qui a décidé (section : {section})",
            "Sentence that decided (section: {section})",
        ),
        "review.qualifiers": ("Mots qui ont qualifié la mention", "Words that qualified it"),
        "review.qualifier_item": ("{tag}\u00a0: «\u00a0{words}\u00a0»", "{tag}: “{words}”"),
        "review.qualifier.negated": ("négation", "negated"),
        "review.qualifier.uncertain": ("doute", "uncertain"),
        "review.qualifier.historical": ("antériorité", "historical"),
        "review.qualifier.other_organ": ("autre organe", "other organ"),
        "review.qualifier.hypothetical": ("hypothèse", "hypothetical"),
        "review.qualifier.old": ("ancienne", "old"),
        "review.qualifier.benign": ("bénin", "benign"),
        "review.qualifier.mimic": ("aspect trompeur", "mimic"),
        "review.qualifier.device": ("matériel", "device"),
        "review.not_mentioned": (
            "Le compte rendu définitif ne mentionne pas la cible ; le dispositif la "
            "compte alors négative (son réglage « non mentionnée »).",
            "The final report does not mention the target; the device then counts it as "
            "negative (its 'not mentioned' setting).",
        ),
        "review.report_text": (
            "Texte entier du compte rendu (conservé pour une durée limitée)",
            "Whole text of the report (kept for a limited time)",
        ),
    }
)


# --- words ---------------------------------------------------------------------------


def _words(key: str, lang: str, **fields: object) -> str:
    return translate(key, lang, **fields)


_SECTIONS = (*SECTIONS, "body")
"""The reader's sections, and v1's "body" of outcomes read before v2."""
_QUALIFIER_TAGS = (
    "negated",
    "uncertain",
    "hypothetical",
    "historical",
    "old",
    "benign",
    "mimic",
    "device",
    "other_organ",
)
"""The reader's qualifier tags (:mod:`connectors.report_text`); another is shown as is."""


def section_words(section: str | None, lang: str) -> str | None:
    """A report section in words (an unknown one as stored; None stays None)."""
    if not section:
        return None
    return _words(f"review.section.{section}", lang) if section in _SECTIONS else section


def qualifier_words(qualifiers: str | None, lang: str) -> list[tuple[str, str]]:
    """The stored qualifiers (``tag: words; tag: words``) as (tag in words, words)."""
    found = []
    for item in (qualifiers or "").split("; "):
        tag, sep, words = item.partition(":")
        if not item.strip():
            continue
        if not sep:
            found.append(("", item.strip()))
        elif tag.strip() in _QUALIFIER_TAGS:
            found.append((_words(f"review.qualifier.{tag.strip()}", lang), words.strip()))
        else:
            found.append((tag.strip(), words.strip()))
    return found


def method_words(method: str | None, lang: str) -> str | None:
    """How an outcome was read, in words: ``report_text_rules/v2 fr conclusion`` ->
    "règles sur le texte du compte rendu, conclusion"; an unknown method is shown as
    stored; None stays None."""
    if not method:
        return None
    head, *rest = method.split()
    if head.startswith("report_text_rules"):
        words = _words("review.method.report_text", lang)
        section = rest[-1] if len(rest) >= 2 else None
        if section in _SECTIONS:
            words += ", " + _words(f"review.section.{section}", lang)
        return words
    if head.startswith("pathology_code:"):
        return _words("review.method.pathology_code", lang, system=head.partition(":")[2])
    if head.startswith("pathology_text"):
        return _words("review.method.pathology_text", lang)
    if head == "adjudication":
        return _words("review.method.adjudication", lang)
    return method


# --- the filter ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Filter:
    """The queue's filter: a device, a finding, or neither."""

    device: str | None = None
    finding: int | None = None

    def params(self) -> dict[str, str]:
        """As query parameters (only those set)."""
        out = {}
        if self.device:
            out["device"] = self.device
        if self.finding is not None:
            out["finding"] = str(self.finding)
        return out

    def url(self, path: str, **extra: str) -> str:
        """``path`` with the filter (and ``extra``) as its query."""
        query = urlencode({**self.params(), **extra})
        return f"{path}?{query}" if query else path

    def query(self, *columns: Any) -> Any:
        """The filter's queue items (or ``columns`` of them), oldest first, as
        :func:`monitor.review.review_items` orders them."""
        query = select(*(columns or (ReviewItem,))).order_by(ReviewItem.queued_at, ReviewItem.id)
        if self.device:
            query = query.where(ReviewItem.device_id == self.device)
        if self.finding is not None:
            query = query.where(ReviewItem.finding_id == self.finding)
        return query


def _filter(session: Session, login: Login, device: str, finding: str) -> _Filter:
    """The filter of the request's ``device`` / ``finding`` values; 404 when unknown."""
    device = device.strip()
    finding = finding.strip()
    if device and session.get(Device, device) is None:
        raise PageNotFound(login, f"no device {device[:64]}")
    finding_id = None
    if finding:
        if not finding.isdigit() or len(finding) > 12:
            raise PageNotFound(login, "a finding is given by its number")
        finding_id = int(finding)
        if session.get(Finding, finding_id) is None:
            raise PageNotFound(login, f"no finding {finding_id}")
    return _Filter(device or None, finding_id)


def _query_filter(session: Session, request: Request, login: Login) -> _Filter:
    params = request.query_params
    return _filter(session, login, params.get("device", ""), params.get("finding", ""))


def _counts(session: Session, flt: _Filter) -> dict[str, int]:
    """Pending / adjudicated / skipped of the filter's queue."""
    if flt.finding is None:
        return review.queue_counts(session, flt.device)
    query = (
        select(ReviewItem.status, func.count())
        .where(ReviewItem.finding_id == flt.finding)
        .group_by(ReviewItem.status)
    )
    if flt.device:
        query = query.where(ReviewItem.device_id == flt.device)
    counts = dict.fromkeys(review.REVIEW_STATUSES, 0)
    counts.update({str(s): int(n) for s, n in session.execute(query)})
    return counts


def _next_pending(session: Session, flt: _Filter) -> str | None:
    """The reference of the filter's first pending case, or None."""
    query = flt.query(ReviewItem.prediction_id).where(ReviewItem.status == "pending")
    found = session.scalars(query.limit(1)).first()
    return None if found is None else review.case_ref(found)


def _position(session: Session, flt: _Filter, prediction_id: int) -> tuple[int, int] | None:
    """(n, total): the case is the n-th of the filter's queue; None when not in it."""
    ids = list(session.scalars(flt.query(ReviewItem.prediction_id)))
    if prediction_id not in ids:
        return None
    return ids.index(prediction_id) + 1, len(ids)


# --- the queue page ------------------------------------------------------------------


def _recent(session: Session, flt: _Filter, lang: str) -> list[dict[str, Any]]:
    query = (
        flt.query()
        .where(ReviewItem.status != "pending")
        .order_by(None)
        .order_by(ReviewItem.decided_at.desc(), ReviewItem.id.desc())
        .limit(RECENT)
    )
    rows = []
    for item in session.scalars(query):
        key = item.decision if item.status == "adjudicated" else "skipped"
        rows.append(
            {
                "case_ref": review.case_ref(item.prediction_id),
                "decision": _words(f"review.decision.{key}", lang),
                "by": item.decided_by or "",
                "at": item.decided_at,
            }
        )
    return rows


def _finding_options(session: Session, lang: str) -> list[tuple[int, str]]:
    """The findings that queued cases, newest first, as (id, words)."""
    queued = select(ReviewItem.finding_id).where(ReviewItem.finding_id.is_not(None)).distinct()
    query = select(Finding).where(Finding.id.in_(queued)).order_by(Finding.id.desc())
    return [
        (
            f.id,
            _words(
                "review.finding_option",
                lang,
                id=f.id,
                rule=tx.term(tx.RULES, f.rule, lang) if f.rule in tx.RULES else f.rule,
                device=f.device_id + (f" {f.device_version}" if f.device_version else ""),
            ),
        )
        for f in session.scalars(query)
    ]


@router.get("/review", include_in_schema=False)
def queue_page(request: Request, login: QualityLogin) -> Response:
    """The review queue: counts, progress and recent decisions of a filter."""
    console = request.app.state.console
    lang = language(request, login)
    with console.api.db.session() as session:
        flt = _query_filter(session, request, login)
        counts = _counts(session, flt)
        first = _next_pending(session, flt)
        recent = _recent(session, flt, lang)
        devices = [(d.id, d.name) for d in session.scalars(select(Device).order_by(Device.id))]
        findings = _finding_options(session, lang)
    total = sum(counts.values())
    done = counts["adjudicated"] + counts["skipped"]
    return page(
        request,
        login,
        "review.html",
        {
            "flt": flt,
            "counts": counts,
            "total": total,
            "decided": done,
            "share": done / total if total else None,
            "start": flt.url(f"/review/{first}") if first else None,
            "first": first,
            "recent": recent,
            "devices": devices,
            "findings": findings,
            "finished": request.query_params.get("done") == "finished",
        },
        title="review.title",
    )


# --- the case page -------------------------------------------------------------------


def _prediction_id(login: Login, ref: str) -> int:
    try:
        return review.parse_case_ref(ref)
    except MonitorError:
        raise PageNotFound(login, "a case is named case-<number>") from None


def _case(session: Session, prediction_id: int, tz: ZoneInfo) -> dict[str, Any] | None:
    """What the case page shows of a case (no exam or patient number), None if unknown."""
    return review.case_record(session, prediction_id, tz)


def _case_context(
    session: Session,
    request: Request,
    login: Login,
    flt: _Filter,
    prediction_id: int,
) -> dict[str, Any]:
    console = request.app.state.console
    lang = language(request, login)
    case = _case(session, prediction_id, console.api.tz)
    if case is None:
        raise PageNotFound(login, f"no case {review.case_ref(prediction_id)}")
    device = session.get(Device, case["device_id"])
    item = session.scalars(
        select(ReviewItem).where(ReviewItem.prediction_id == prediction_id)
    ).one_or_none()
    finding = (
        session.get(Finding, item.finding_id)
        if item is not None and item.finding_id is not None
        else None
    )
    source = case["outcome_source"]
    done_ref = request.query_params.get("prev", "")
    done = request.query_params.get("done", "")
    confirmation = None
    if done in ("adjudicated", "skipped") and done_ref.startswith("case-"):
        previous = review.parse_case_ref(done_ref) if done_ref[5:].isdigit() else None
        if previous is not None:
            decision = request.query_params.get("decision", "")
            confirmation = _words(
                f"review.done.{done}",
                lang,
                case=review.case_ref(previous),
                decision=_words(f"review.result.{decision}", lang)
                if decision in review.ADJUDICATION_OUTCOMES
                else "",
            )
    return {
        "case": case,
        "ref": review.case_ref(prediction_id),
        "flt": flt,
        "hidden": flt.params(),
        "back": flt.url("/review"),
        "position": _position(session, flt, prediction_id),
        # On 0..1, as the stored score it is shown next to.
        "threshold": DeviceSpec.model_validate(device.spec).unit_threshold() if device else None,
        "item": item,
        "finding": finding,
        "finding_rule": (
            tx.term(tx.RULES, finding.rule, lang)
            if finding is not None and finding.rule in tx.RULES
            else (finding.rule if finding is not None else None)
        ),
        "status_words": _words(f"review.case_status.{case['status']}", lang),
        "ai_words": (
            _words(f"review.result.{case['ai_result']}", lang)
            if case["ai_result"] in ("positive", "negative", "indeterminate")
            else str(case["ai_result"])
        ),
        "outcome_words": (
            _words(f"review.result.{case['outcome']}", lang) if case["outcome"] else None
        ),
        "source_words": (
            _words(f"review.source.{source}", lang)
            if source in ("report", "pathology", "follow_up", "adjudication")
            else source
        ),
        "method_words": method_words(case["outcome_method"], lang),
        "section_words": section_words(case["outcome_section"], lang),
        "qualifiers": qualifier_words(case["outcome_qualifiers"], lang),
        "not_mentioned": case["outcome_read"] == "not_mentioned",
        "report_text": review.case_report_text(session, prediction_id),
        "can_skip": item is not None and item.status == "pending",
        "confirmation": confirmation,
        "error": None,
    }


@router.get("/review/{ref}", include_in_schema=False)
def case_page(ref: str, request: Request, login: QualityLogin) -> Response:
    """One case: what is known of it and the adjudicate / skip forms."""
    prediction_id = _prediction_id(login, ref)
    console = request.app.state.console
    with console.api.db.session() as session:
        flt = _query_filter(session, request, login)
        context = _case_context(session, request, login, flt, prediction_id)
    return page(request, login, "review_case.html", context, title="review.case_title")


def _refused(
    request: Request, login: Login, flt: _Filter, prediction_id: int, error: str, status: int
) -> Response:
    """The case page again with ``error`` (nothing was recorded)."""
    console = request.app.state.console
    with console.api.db.session() as session:
        context = _case_context(session, request, login, flt, prediction_id)
    context["error"] = error
    return page(
        request, login, "review_case.html", context, title="review.case_title", status_code=status
    )


def _after(request: Request, flt: _Filter, ref: str, done: str, decision: str = "") -> Response:
    """303 to the filter's next pending case, or to the queue page when none is left."""
    console = request.app.state.console
    with console.api.db.session() as session:
        following = _next_pending(session, flt)
    if following is None:
        return RedirectResponse(flt.url("/review", done="finished"), status_code=303)
    extra = {"done": done, "prev": ref}
    if decision:
        extra["decision"] = decision
    return RedirectResponse(flt.url(f"/review/{following}", **extra), status_code=303)


@router.post("/review/{ref}/adjudicate", include_in_schema=False)
def adjudicate_case(ref: str, request: Request, posted: QualityPost) -> Response:
    """Record the reviewer's outcome (positive / negative, with a comment)."""
    login = posted.login
    lang = language(request, login)
    prediction_id = _prediction_id(login, ref)
    console = request.app.state.console
    with console.api.db.session() as session:
        flt = _filter(session, login, posted.text("device"), posted.text("finding"))
    outcome, comment = posted.text("outcome"), posted.text("comment")
    if outcome not in review.ADJUDICATION_OUTCOMES:
        return _refused(
            request, login, flt, prediction_id, _words("review.error.outcome", lang), 400
        )
    if not comment:
        return _refused(
            request, login, flt, prediction_id, _words("review.error.comment", lang), 400
        )
    try:
        with console.api.summarised_db().session.begin() as session:
            if session.get(Prediction, prediction_id) is None:
                raise PageNotFound(login, f"no case {review.case_ref(prediction_id)}")
            review.adjudicate(
                session,
                review.case_ref(prediction_id),
                outcome,
                user=login.actor,
                comment=comment,
            )
    except MonitorError as exc:
        reason = _words("review.error.refused", lang, reason=str(exc))
        return _refused(request, login, flt, prediction_id, reason, 409)
    return _after(request, flt, review.case_ref(prediction_id), "adjudicated", outcome)


@router.post("/review/{ref}/skip", include_in_schema=False)
def skip_case(ref: str, request: Request, posted: QualityPost) -> Response:
    """Skip a pending queued case (with a comment)."""
    login = posted.login
    lang = language(request, login)
    prediction_id = _prediction_id(login, ref)
    console = request.app.state.console
    with console.api.db.session() as session:
        flt = _filter(session, login, posted.text("device"), posted.text("finding"))
    comment = posted.text("comment")
    if not comment:
        return _refused(
            request, login, flt, prediction_id, _words("review.error.comment", lang), 400
        )
    try:
        with console.api.db.session.begin() as session:
            if session.get(Prediction, prediction_id) is None:
                raise PageNotFound(login, f"no case {review.case_ref(prediction_id)}")
            review.skip(session, review.case_ref(prediction_id), user=login.actor, comment=comment)
    except MonitorError:
        # The one refusal left: the case is not pending in the queue.
        reason = _words("review.skip_unavailable", lang)
        return _refused(request, login, flt, prediction_id, reason, 409)
    return _after(request, flt, review.case_ref(prediction_id), "skipped")
