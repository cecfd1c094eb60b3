"""The console's words in French and English.

Each page module registers its own texts, ``key -> (French, English)``, with
:func:`register`; templates call ``t("key", name=value)`` (``str.format`` fields).
The language of a request: the ``lang`` query parameter or cookie if set, else the
user's account language, else French. Numbers, percentages and dates use the report's
formatting (:mod:`monitor.report_texts`: decimal comma and narrow spaces in French).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["LANGS", "TEXTS", "register", "translate"]

LANGS: Final = ("fr", "en")

TEXTS: dict[str, tuple[str, str]] = {}
"""Every registered text: key -> (French, English)."""


def register(texts: Mapping[str, tuple[str, str]]) -> Mapping[str, tuple[str, str]]:
    """Add ``texts`` to the catalogue; ValueError if a key is registered twice with
    different words (two pages must not silently disagree)."""
    for key, pair in texts.items():
        if len(pair) != 2 or not all(isinstance(p, str) and p for p in pair):
            raise ValueError(f"text {key!r} needs a French and an English version")
        known = TEXTS.get(key)
        if known is not None and known != pair:
            raise ValueError(f"text {key!r} is registered twice with different words")
        TEXTS[key] = pair
    return texts


def translate(key: str, lang: str, /, **fields: object) -> str:
    """The text ``key`` in ``lang`` with ``fields`` filled in; KeyError for an unknown
    key (a missing text is a bug, shown at once by the tests)."""
    french, english = TEXTS[key]
    text = english if lang == "en" else french
    return text.format(**fields) if fields else text


register(
    {
        "app.name": ("dmn-monitor", "dmn-monitor"),
        "app.tagline": (
            "Suivi des dispositifs médicaux numériques en vie réelle",
            "Real-world monitoring of AI medical devices",
        ),
        "nav.skip": ("Aller au contenu", "Skip to content"),
        "nav.main": ("Navigation principale", "Main navigation"),
        "nav.fleet": ("Parc", "Fleet"),
        "nav.findings": ("Constats", "Findings"),
        "nav.review": ("Revue des cas", "Case review"),
        "nav.months": ("Revue mensuelle", "Monthly review"),
        "nav.ingestion": ("Ingestion", "Ingestion"),
        "nav.language": ("Langue", "Language"),
        "nav.signed_in": ("Connecté : {name} ({role})", "Signed in: {name} ({role})"),
        "nav.logout": ("Se déconnecter", "Log out"),
        "role.viewer": ("lecture", "viewer"),
        "role.quality": ("qualité", "quality"),
        "role.admin": ("administrateur", "admin"),
        "login.title": ("Connexion", "Log in"),
        "login.username": ("Identifiant", "User name"),
        "login.password": ("Mot de passe", "Password"),
        "login.submit": ("Se connecter", "Log in"),
        "login.failed": (
            "Identifiant ou mot de passe incorrect, ou compte verrouillé. Après cinq "
            "échecs, le compte est verrouillé quinze minutes.",
            "Wrong user name or password, or the account is locked. After five failures "
            "the account is locked for fifteen minutes.",
        ),
        "login.throttled": (
            "Trop de tentatives de connexion : patientez une minute avant de réessayer.",
            "Too many login attempts: wait a minute before trying again.",
        ),
        "login.ended": (
            "Votre session a expiré : reconnectez-vous.",
            "Your session has ended: please log in again.",
        ),
        "login.logged_out": ("Vous êtes déconnecté.", "You are logged out."),
        "error.title": ("Erreur", "Error"),
        "error.forbidden": (
            "Votre rôle ({role}) ne permet pas cette action ; il faut le rôle {needed}.",
            "Your role ({role}) does not allow this; it needs the role {needed}.",
        ),
        "error.csrf": (
            "Le formulaire a expiré ou ne vient pas de cette console : rechargez la page "
            "et recommencez.",
            "The form has expired or does not come from this console: reload the page "
            "and try again.",
        ),
        "error.not_found": ("Page introuvable.", "Page not found."),
        "error.back": ("Retour au parc", "Back to the fleet"),
        "form.comment": ("Commentaire (obligatoire)", "Comment (required)"),
        "form.required": ("obligatoire", "required"),
        "task.running": ("En cours…", "Running…"),
        "task.done": ("Terminé", "Done"),
        "task.failed": ("Échec : {error}", "Failed: {error}"),
        "task.progress": ("Avancement", "Progress"),
        "common.none": ("aucun", "none"),
        "common.yes": ("oui", "yes"),
        "common.no": ("non", "no"),
    }
)
