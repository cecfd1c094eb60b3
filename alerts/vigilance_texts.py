"""The French and English texts of the materiovigilance draft (pure data, no logic).

Term tables (metrics, rules, subgroup columns, corrective actions), the labels of
the ANSM declaration form (Cerfa n° 10246), the draft's title and notices, the
headings of the renderings, what each MIR section holds and the EU AI Act
article 26 deployer duties. Each text is a ``(fr, en)`` pair or a mapping keyed by
language; :func:`tr` and :func:`pick` choose the one of a language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ACTION_KINDS",
    "AI_ACT_NOTE",
    "ANSM_FIELDS",
    "ANSM_SECTIONS",
    "DRAFT_BANNER",
    "DRAFT_NOTICE",
    "DRAFT_TITLE",
    "ERRORS",
    "METRIC",
    "POPULATION",
    "RULES",
    "SUBGROUP_COLUMNS",
    "TO_COMPLETE",
    "Duty",
    "ai_act_duties",
    "heading_labels",
    "mir_outline",
    "number_labels",
    "pick",
    "tr",
]

TO_COMPLETE = {"fr": "[À COMPLÉTER]", "en": "[TO BE COMPLETED]"}
"""The mark of a blank a human must fill."""

DRAFT_BANNER = {"fr": "PROJET - NON ENVOYÉ", "en": "DRAFT - NOT SENT"}

DRAFT_TITLE = {
    "fr": "Signalement de matériovigilance - projet (déclaration d'un professionnel de "
    "santé, Cerfa n° 10246)",
    "en": "Materiovigilance report - draft (health-professional declaration to ANSM, "
    "Cerfa no. 10246)",
}

DRAFT_NOTICE = {
    "fr": "Document préparé automatiquement par dmn-monitor à partir d'un constat confirmé. "
    "Il n'a été envoyé ni à l'ANSM ni au fabricant : le déclarant le relit, complète "
    f"les champs marqués {TO_COMPLETE['fr']} et le transmet lui-même.",
    "en": "Prepared automatically by dmn-monitor from a confirmed finding. It has been sent "
    "neither to ANSM nor to the manufacturer: the reporter reviews it, fills the fields "
    f"marked {TO_COMPLETE['en']} and sends it themselves.",
}

AI_ACT_NOTE = {
    "fr": "S'applique si le dispositif est un système d'IA à haut risque au sens du "
    "règlement (UE) 2024/1689 (article 6, paragraphe 1 : dispositif médical soumis à "
    "un organisme notifié) ; date d'application à vérifier.",
    "en": "Applies when the device is a high-risk AI system under Regulation (EU) 2024/1689 "
    "(article 6(1): a medical device assessed by a notified body); date of "
    "application to be checked.",
}


def tr(lang: str, fr: str, en: str) -> str:
    """``fr`` when ``lang`` is "fr", else ``en``."""
    return fr if lang == "fr" else en


# --- terms -----------------------------------------------------------------------------


METRIC = {
    "sensitivity": ("sensibilité", "sensitivity"),
    "specificity": ("spécificité", "specificity"),
    "ppv": ("valeur prédictive positive", "positive predictive value"),
    "npv": ("valeur prédictive négative", "negative predictive value"),
}

ERRORS = {
    "sensitivity": ("faux négatifs (anomalies manquées)", "false negatives (missed findings)"),
    "specificity": ("faux positifs (fausses détections)", "false positives (false findings)"),
    "ppv": ("faux positifs (fausses détections)", "false positives (false findings)"),
    "npv": ("faux négatifs (anomalies manquées)", "false negatives (missed findings)"),
}

POPULATION = {
    "sensitivity": ("examens positifs vérifiés", "verified positive exams"),
    "specificity": ("examens négatifs vérifiés", "verified negative exams"),
    "ppv": ("examens signalés positifs par le dispositif", "exams the device called positive"),
    "npv": ("examens signalés négatifs par le dispositif", "exams the device called negative"),
}

SUBGROUP_COLUMNS = {
    "site": ("site", "site"),
    "modality": ("modalité", "modality"),
    "body_part": ("région anatomique", "body part"),
    "scanner_manufacturer": ("constructeur de l'appareil d'imagerie", "scanner manufacturer"),
    "scanner_model": ("modèle de l'appareil d'imagerie", "scanner model"),
    "age_band": ("tranche d'âge", "age band"),
    "patient_sex": ("sexe", "sex"),
}

RULES = {
    "cusum": ("carte de contrôle CUSUM (Bernoulli)", "Bernoulli CUSUM control chart"),
    "ewma": ("carte de contrôle EWMA (Bernoulli)", "Bernoulli EWMA control chart"),
    "below_claim": (
        "comparaison mensuelle à la performance revendiquée",
        "monthly comparison with the claimed performance",
    ),
    "version_comparison": (
        "comparaison avec la version précédente",
        "comparison with the previous version",
    ),
    "version_change": ("changement de version", "version change"),
    "outage": ("arrêt des résultats du dispositif", "device output outage"),
    "verification_backlog": ("retard de vérification", "verification backlog"),
    "threshold_mismatch": (
        "résultats contraires au seuil de fonctionnement du registre",
        "results contradicting the registry's operating threshold",
    ),
    "input_drift": ("dérive des données d'entrée", "input data drift"),
    "output_drift": ("dérive des sorties du dispositif", "device output drift"),
    "estimated_performance": (
        "performance estimée sans vérité terrain",
        "performance estimated without ground truth",
    ),
}

ACTION_KINDS = {
    "restrict_use": ("restriction d'utilisation", "use restricted"),
    "raise_threshold": ("modification du seuil de fonctionnement", "operating threshold changed"),
    "contact_manufacturer": ("fabricant contacté", "manufacturer contacted"),
    "suspend_device": ("dispositif suspendu", "device suspended"),
    "retrain_users": ("formation des utilisateurs", "users retrained"),
    "other": ("autre", "other"),
}


def pick(table: Mapping[str, tuple[str, str]], key: str | None, lang: str) -> str:
    if key is None or key not in table:
        return key or ""
    fr, en = table[key]
    return tr(lang, fr, en)


# --- the ANSM declaration form (Cerfa n° 10246) -----------------------------------------

ANSM_SECTIONS = {
    "reporter": ("Déclarant", "Reporter"),
    "device": ("Dispositif médical", "Medical device"),
    "incident": ("Incident", "Incident"),
}
"""Titles of the form's sections, by section key."""

ANSM_FIELDS = {
    # reporter
    "name": ("Nom et prénom", "Name"),
    "profession": ("Qualité / profession", "Profession"),
    "establishment": ("Établissement de santé", "Healthcare establishment"),
    "finess": ("N° FINESS", "FINESS number"),
    "department": ("Service", "Department"),
    "address": ("Adresse", "Address"),
    "phone": ("Téléphone", "Phone"),
    "email": ("Courriel", "E-mail"),
    "vigilance_correspondent": (
        "Correspondant local de matériovigilance",
        "Local materiovigilance correspondent",
    ),
    # device
    "trade_name": ("Dénomination commerciale", "Trade name"),
    "manufacturer": ("Fabricant", "Manufacturer"),
    "model": ("Modèle / référence", "Model / reference"),
    "software_version": ("Version du logiciel", "Software version"),
    "udi_di": ("IUD-ID (UDI-DI), si connu", "UDI-DI, if known"),
    "ce_class": ("Classe CE", "CE class"),
    "notified_body": ("Organisme notifié", "Notified body"),
    "intended_purpose": ("Destination (usage prévu)", "Intended purpose"),
    "supplier": ("Fournisseur / distributeur", "Supplier / distributor"),
    "date_in_service": ("Date de mise en service", "Date in service"),
    # incident
    "date_of_occurrence": ("Date de survenue", "Date of occurrence"),
    "date_of_awareness": ("Date de constat / de connaissance", "Date of awareness"),
    "place": ("Lieu de survenue", "Place"),
    "description": ("Description des faits", "Description of the facts"),
    "patient_consequences": (
        "Conséquences pour le(s) patient(s)",
        "Consequences for the patient(s)",
    ),
    "seriousness": (
        "Gravité (incident grave ou non, selon le déclarant)",
        "Seriousness (serious incident or not, as the reporter judges)",
    ),
    "measures_taken": ("Mesures prises", "Measures taken"),
    "manufacturer_informed": ("Fabricant informé", "Manufacturer informed"),
    "manufacturer_informed_on": (
        "Date d'information du fabricant",
        "Date the manufacturer was informed",
    ),
}
"""Labels of the form's fields, by field key (unique across the sections)."""


# --- headings of the renderings ---------------------------------------------------------


def mir_outline(lang: str) -> tuple[tuple[str, str], ...]:
    """What each MIR section of the JSON export holds."""

    def t(fr: str, en: str) -> str:
        return tr(lang, fr, en)

    return (
        (
            t("1. Informations administratives", "1. Administrative information"),
            t(
                "autorité compétente, dates de l'incident, de détection et de confirmation ; "
                "type et classification du rapport à compléter",
                "competent authority, dates of the incident, detection and confirmation; "
                "report type and classification to complete",
            ),
        ),
        (
            t("2. Dispositif médical", "2. Medical device"),
            t(
                "nom commercial, modèle, version, IUD-ID, classe, organisme notifié, destination",
                "trade name, model, version, UDI-DI, class, notified body, intended purpose",
            ),
        ),
        (
            t("3. Incident", "3. Incident"),
            t(
                "description, chiffres et preuves du constat, cas concernés, codes IMDRF "
                "suggérés, mesures prises par l'établissement",
                "description, figures and evidence of the finding, affected cases, suggested "
                "IMDRF codes, measures taken by the facility",
            ),
        ),
        (
            t("4. Analyse du fabricant", "4. Manufacturer analysis"),
            t("à remplir par le fabricant", "for the manufacturer to fill"),
        ),
        (
            t("5. Commentaires", "5. General comments"),
            t("données de surveillance disponibles", "monitoring data available"),
        ),
    )


def heading_labels(lang: str) -> dict[str, str]:
    """Headings of the renderings."""

    def t(fr: str, en: str) -> str:
        return tr(lang, fr, en)

    return {
        "description": t("Description de l'incident", "Incident description"),
        "numbers": t("Chiffres du constat", "Figures of the finding"),
        "imdrf": t("Codes IMDRF suggérés", "Suggested IMDRF codes"),
        "annex": t("Annexe", "Annex"),
        "code": t("Code", "Code"),
        "term": t("Terme", "Term"),
        "why": t("Motif", "Why"),
        "suggestion": t("suggestion", "suggestion"),
        "mir": t(
            "Export pour le fabricant (sections du formulaire MIR 7.3.1)",
            "Export for the manufacturer (MIR form 7.3.1 sections)",
        ),
        "mir_note": t(
            "Le détail structuré est dans l'export JSON (--format json).",
            "The structured detail is in the JSON export (--format json).",
        ),
        "ai_act": t(
            "Obligations du déployeur (AI Act, article 26)",
            "Deployer duties (AI Act, article 26)",
        ),
        "generated": t("Généré le", "Generated on"),
        "finding": t("Constat", "Finding"),
        "page": t("Page", "Page"),
        "see_description": t(
            "voir « Description de l'incident » ci-dessous",
            "see 'Incident description' below",
        ),
        "to_complete_legend": t(
            f"{TO_COMPLETE['fr']} : champ à remplir par le déclarant.",
            f"{TO_COMPLETE['en']}: field for the reporter to fill.",
        ),
    }


def number_labels(lang: str) -> dict[str, str]:
    """Display labels of :func:`key_numbers` keys shown in the renderings."""

    def t(fr: str, en: str) -> str:
        return tr(lang, fr, en)

    return {
        "observed": t("Valeur observée", "Observed value"),
        "observed_interval": t("Intervalle de confiance", "Confidence interval"),
        "claimed": t("Valeur revendiquée", "Claimed value"),
        "claimed_interval": t("Intervalle revendiqué", "Claimed interval"),
        "exams": t("Examens évalués", "Exams evaluated"),
        "errors": t("Erreurs du dispositif", "Device errors"),
        "affected_cases_total": t("Examens concernés", "Affected exams"),
    }


# --- EU AI Act article 26 deployer duties ----------------------------------------------


@dataclass(frozen=True)
class Duty:
    """An EU AI Act article 26 deployer duty and what the draft contributes to it."""

    article: str
    duty: str
    support: str


def ai_act_duties(informed: str, lang: str) -> tuple[Duty, ...]:
    def t(fr: str, en: str) -> str:
        return tr(lang, fr, en)

    return (
        Duty(
            "26(5)",
            t(
                "Surveiller le fonctionnement selon la notice ; en cas de risque ou d'incident "
                "grave, informer sans délai le fournisseur puis l'autorité de surveillance du "
                "marché, et suspendre l'utilisation si nécessaire.",
                "Monitor the operation as the instructions for use say; on a risk or a "
                "serious incident, inform the provider without undue delay, then the market "
                "surveillance authority, and suspend use where needed.",
            ),
            t(
                f"Le constat documente la surveillance ; ce projet sert à informer le "
                f"fournisseur (fabricant informé : {informed}).",
                f"The finding documents the monitoring; this draft serves to inform the "
                f"provider (manufacturer informed: {informed}).",
            ),
        ),
        Duty(
            "26(6)",
            t(
                "Conserver au moins six mois les journaux générés automatiquement par le "
                "système, dans la mesure où ils sont sous le contrôle du déployeur.",
                "Keep the logs automatically generated by the system for at least six months, "
                "to the extent they are under the deployer's control.",
            ),
            t(
                "dmn-monitor conserve les résultats du dispositif, les vérités terrain, les "
                "constats et un journal d'audit non modifiable ; durée de conservation : "
                f"{TO_COMPLETE['fr']}.",
                "dmn-monitor keeps the device results, the ground truth, the findings and an "
                "append-only audit log; retention period: "
                f"{TO_COMPLETE['en']}.",
            ),
        ),
        Duty(
            "26(2)",
            t(
                "Confier le contrôle humain à des personnes compétentes et formées.",
                "Assign human oversight to competent, trained persons.",
            ),
            t(
                "Le constat a été confirmé par une personne nommée (journal d'audit).",
                "The finding was confirmed by a named person (audit log).",
            ),
        ),
    )
