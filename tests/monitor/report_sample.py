"""A realistic synthetic monthly report (August 2025) for rendering tests.

Device 1, a fracture detector, is degraded: sensitivity 84.5 % [81.7-87.0] against a
claim of 91 % (red light: below_claim and finding), Fujifilm scanners flagged in the
subgroup table (gap -0.25), a 'U' sex cell too small, a CUSUM path of about 3,000
points crossing its limit 10.8 mid-month, two findings, one action and one vigilance
draft. Device 2, a lung-nodule detector, is green. The inventory lists both plus a
device without data whose risk analysis lacks a continuity plan and training. No
patient or exam identifier anywhere: synthetic data only.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.report_model import (
    ActionLine,
    CusumPanel,
    DeviceMonth,
    DriftLine,
    EstimateLine,
    FindingLine,
    InventoryLine,
    Light,
    Manifest,
    ManifestEntry,
    MetricLine,
    MonthlyReport,
    Reason,
    ReviewSummary,
    SubgroupLine,
    TrendPoint,
    VigilanceLine,
    Volume,
)

__all__ = ["FRACTURE", "LUNG", "MONTH", "TZ", "sample_report"]

TZ = ZoneInfo("Europe/Paris")
MONTH = date(2025, 8, 1)
FRACTURE = "fracture-detector"
LUNG = "lung-nodule"


def _months(last: date, count: int = 12) -> list[date]:
    """The ``count`` first days of month ending with ``last``."""
    out = []
    year, month = last.year, last.month
    for _ in range(count):
        out.append(date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def _wilson(value: float, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    centre = (value + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(value * (1 - value) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _trend(values: list[float], n: int) -> tuple[TrendPoint, ...]:
    points = []
    for month, value in zip(_months(MONTH), values, strict=True):
        low, high = _wilson(value, n)
        points.append(TrendPoint(month, value, low, high, n))
    return tuple(points)


def _cusum(degraded: bool) -> CusumPanel:
    """A Bernoulli CUSUM on misses over ~3,000 verified positives since June; when
    degraded it drifts up from early August and crosses 10.8 mid-month."""
    rng = random.Random(20250831)
    start = datetime(2025, 6, 1, 8, 0, tzinfo=TZ)
    times, stats = [], []
    s, signal = 0.0, None
    change = 2050
    for i in range(3000):
        t = start + timedelta(minutes=44 * i)
        miss_rate = 0.14 if degraded and i >= change else 0.07
        miss = rng.random() < miss_rate
        s = max(0.0, s + (1.9 if miss else -0.25))
        times.append(t)
        stats.append(round(s, 4))
        if signal is None and s > 10.8:
            signal = t
    return CusumPanel(
        chart="cusum",
        metric="sensitivity",
        slice_label="toutes versions / all versions",
        version=None,
        subgroup=None,
        times=tuple(times),
        statistic=tuple(stats),
        limit=10.8,
        signal_at=signal,
        in_control_rate=0.91,
        observations=len(stats),
        finding_id=12 if signal is not None else None,
    )


def _subgroups(degraded: bool) -> tuple[SubgroupLine, ...]:
    def line(
        dimension: str,
        value: str,
        n: int,
        sens: float,
        spec: float,
        sens_gap: float,
        p_sens: float,
        *,
        too_small: bool = False,
        flagged: tuple[str, ...] = (),
    ) -> SubgroupLine:
        npos = max(1, n // 4)
        sl, sh = _wilson(sens, npos)
        pl, ph = _wilson(spec, n - npos)
        return SubgroupLine(
            dimension=dimension,
            value=value,
            n=n,
            sensitivity=(sens, sl, sh),
            specificity=(spec, pl, ph),
            sensitivity_gap=(sens_gap, sens_gap - 0.08, sens_gap + 0.08),
            specificity_gap=(0.004, -0.02, 0.03),
            sensitivity_p_adjusted=p_sens,
            specificity_p_adjusted=1.0,
            too_small=too_small,
            flagged=flagged,
            below_claim=("sensitivity",) if sh < 0.91 and not too_small else (),
        )

    fuji = 0.65 if degraded else 0.90
    return (
        line("device_version", "3.2.0", 1480, 0.86, 0.93, 0.02, 1.0),
        line("device_version", "3.3.1", 1320, 0.83, 0.93, -0.02, 1.0),
        line("site", "Hôpital Nord - Urgences adultes", 1650, 0.85, 0.93, 0.01, 1.0),
        line("site", "Hôpital Sud", 1150, 0.84, 0.93, -0.01, 1.0),
        line("scanner_manufacturer", "Siemens Healthineers", 1260, 0.91, 0.93, 0.09, 0.21),
        line("scanner_manufacturer", "GE HealthCare", 980, 0.90, 0.93, 0.07, 0.43),
        line(
            "scanner_manufacturer",
            "Fujifilm",
            560,
            fuji,
            0.92,
            -0.25 if degraded else -0.01,
            0.00042 if degraded else 1.0,
            flagged=("sensitivity",) if degraded else (),
        ),
        line("patient_sex", "F", 1440, 0.85, 0.93, 0.01, 1.0),
        line("patient_sex", "M", 1352, 0.84, 0.93, -0.01, 1.0),
        line("patient_sex", "U", 8, 0.50, 1.0, -0.35, 1.0, too_small=True),
        line("age_band", "<18", 410, 0.88, 0.95, 0.04, 0.8),
        line("age_band", "18-64", 1530, 0.85, 0.93, 0.01, 1.0),
        line("age_band", ">=65", 860, 0.82, 0.91, -0.03, 0.9),
    )


def _fracture(degraded: bool) -> DeviceMonth:
    sens = (0.845, 0.817, 0.870) if degraded else (0.918, 0.896, 0.936)
    metrics = (
        MetricLine("sensitivity", *sens, 702, 0.91, 2.3e-08 if degraded else 0.78, degraded),
        MetricLine("specificity", 0.931, 0.920, 0.941, 2098, 0.92, 0.97, False),
        MetricLine("ppv", 0.803, 0.774, 0.829, 739, None, None, False),
        MetricLine("npv", 0.947, 0.937, 0.956, 2061, None, None, False),
    )
    sens_trend = [0.915, 0.921, 0.909, 0.918, 0.912, 0.920, 0.914, 0.917, 0.905, 0.911, 0.897]
    sens_trend.append(sens[0])
    spec_trend = [0.928, 0.931, 0.925, 0.933, 0.930, 0.927, 0.932, 0.929, 0.934, 0.930, 0.928]
    spec_trend.append(0.931)
    cusum = _cusum(degraded)
    findings: tuple[FindingLine, ...] = ()
    actions: tuple[ActionLine, ...] = ()
    vigilance: tuple[VigilanceLine, ...] = ()
    if degraded:
        findings = (
            FindingLine(
                finding_id=12,
                rule="cusum",
                metric="sensitivity",
                severity="critical",
                slice_label="toutes versions / all versions",
                detected=date(2025, 8, 4),
                since=date(2025, 8, 2),
                value=cusum.statistic[-1],
                threshold=10.8,
                status="action_taken",
                events=(
                    ("opened", date(2025, 8, 4)),
                    ("acknowledged", date(2025, 8, 5)),
                    ("confirmed", date(2025, 8, 11)),
                    ("action_taken", date(2025, 8, 12)),
                ),
                dismissal_reason=None,
                incident=1,
            ),
            FindingLine(
                finding_id=13,
                rule="input_drift",
                metric=None,
                severity="warning",
                slice_label="scanner_manufacturer = Fujifilm",
                detected=date(2025, 8, 21),
                since=None,
                value=0.31,
                threshold=0.2,
                status="dismissed",
                events=(
                    ("opened", date(2025, 8, 21)),
                    ("acknowledged", date(2025, 8, 22)),
                    ("dismissed", date(2025, 8, 25)),
                ),
                dismissal_reason="same_root_cause",
                incident=1,
            ),
        )
        actions = (
            ActionLine(
                action_id=4,
                finding_id=12,
                kind="contact_manufacturer",
                description=(
                    "Fabricant informé de la baisse de sensibilité sur les clichés Fujifilm "
                    "(FCR Capsula XLII) depuis la mise à jour 3.3.1 ; analyse des cas manqués "
                    "demandée, double lecture systématique des radiographies des extrémités "
                    "en attendant la réponse."
                ),
                owner="Dr Claire Lefèvre-Dumont",
                due=date(2025, 9, 15),
                done=None,
            ),
        )
        vigilance = (
            VigilanceLine(
                draft_id=3,
                finding_id=12,
                created=datetime(2025, 8, 20, 10, 42, tzinfo=TZ),
                lang="fr",
                fmt="pdf",
                sha256="9f2c4e1ab7d03c55e8a1f0b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6",
                user="c.lefevre",
            ),
        )
    if degraded:
        light = Light(
            "red",
            (
                Reason(
                    "below_claim",
                    {
                        "metric": "sensitivity",
                        "value": 0.845,
                        "low": 0.817,
                        "high": 0.870,
                        "claimed": 0.91,
                        "p": 2.3e-08,
                    },
                ),
                Reason(
                    "finding",
                    {
                        "finding_id": 12,
                        "rule": "cusum",
                        "metric": "sensitivity",
                        "severity": "critical",
                        "slice": "toutes versions / all versions",
                    },
                ),
                Reason(
                    "subgroup_gap",
                    {
                        "metric": "sensitivity",
                        "dimension": "scanner_manufacturer",
                        "value": "Fujifilm",
                        "difference": -0.25,
                        "p_adjusted": 0.00042,
                    },
                ),
            ),
        )
    else:
        light = Light("green", (Reason("within_claim"),))
    months = _months(MONTH, 6)
    estimates = tuple(
        EstimateLine(
            month=m,
            cases=2700 + 37 * i,
            verified_share=0.97 if i < 5 else 0.78,
            estimated_sensitivity=0.905 - (0.05 if degraded and i == 5 else 0.0),
            realised_sensitivity=sens_trend[6 + i],
            realised_sensitivity_low=_wilson(sens_trend[6 + i], 700)[0],
            realised_sensitivity_high=_wilson(sens_trend[6 + i], 700)[1],
            estimated_specificity=0.929,
            realised_specificity=spec_trend[6 + i],
            realised_specificity_low=_wilson(spec_trend[6 + i], 2100)[0],
            realised_specificity_high=_wilson(spec_trend[6 + i], 2100)[1],
        )
        for i, m in enumerate(months)
    )
    return DeviceMonth(
        device_id=FRACTURE,
        name="BoneView Trauma - détection des fractures sur radiographies standard",
        manufacturer="Gleamer",
        versions=("3.2.0", "3.3.1"),
        light=light,
        volume=Volume(
            predictions=3214,
            verified=2800,
            pending=352,
            excluded=62,
            verification_rate=2800 / 3152,
            median_label_delay_days=2.5,
            last_prediction=datetime(2025, 8, 31, 23, 41, tzinfo=TZ),
        ),
        metrics=metrics,
        trend={
            "sensitivity": (*_trend(sens_trend, 700)[:-1], TrendPoint(MONTH, *sens, 702)),
            "specificity": (
                *_trend(spec_trend, 2100)[:-1],
                TrendPoint(MONTH, 0.931, 0.920, 0.941, 2098),
            ),
        },
        claims={"sensitivity": 0.91, "specificity": 0.92},
        subgroups=_subgroups(degraded),
        cusum=(cusum,),
        drift=(
            DriftLine("score", "wasserstein", 0.084, 0.1, False, 8400, 2960),
            DriftLine("scanner_manufacturer", "jensenshannon", 0.31, 0.2, degraded, 8400, 2960),
            DriftLine("patient_age", "wasserstein", 0.021, 0.1, False, 8400, 2960),
            DriftLine("body_part", "jensenshannon", 0.05, 0.2, False, 8400, 2960),
        ),
        drift_report="drift-fracture-detector-2025-08.html",
        drift_note=None,
        estimates=estimates,
        estimate_note=None,
        findings=findings,
        actions=actions,
        vigilance=vigilance,
        review=ReviewSummary(queued=46, adjudicated=41, skipped=2, waiting=7, changed=5),
    )


def _lung() -> DeviceMonth:
    sens, spec = (
        [0.88 + 0.004 * (i % 3) for i in range(12)],
        [0.81 + 0.003 * (i % 4) for i in range(12)],
    )
    return DeviceMonth(
        device_id=LUNG,
        name="Veye Lung Nodules",
        manufacturer="Aidence",
        versions=("4.1",),
        light=Light("green", (Reason("within_claim"),)),
        volume=Volume(
            predictions=1187,
            verified=842,
            pending=331,
            excluded=14,
            verification_rate=842 / 1173,
            median_label_delay_days=9.0,
            last_prediction=datetime(2025, 8, 31, 18, 5, tzinfo=TZ),
        ),
        metrics=(
            MetricLine("sensitivity", 0.886, 0.842, 0.919, 290, 0.87, 0.81, False),
            MetricLine("specificity", 0.818, 0.784, 0.848, 552, 0.80, 0.86, False),
            MetricLine("ppv", 0.718, 0.671, 0.761, 358, None, None, False),
            MetricLine("npv", 0.932, 0.907, 0.951, 484, None, None, False),
        ),
        trend={"sensitivity": _trend(sens, 290), "specificity": _trend(spec, 552)},
        claims={"sensitivity": 0.87, "specificity": 0.80},
        subgroups=(),
        cusum=(),
        drift=(),
        drift_report=None,
        drift_note=(
            "Pas de période de référence enregistrée : dérive non calculée. / "
            "No reference period recorded: drift not computed."
        ),
        estimates=(),
        estimate_note=(
            "Le dispositif ne transmet pas de score : estimation impossible. / "
            "The device sends no score: no estimate."
        ),
        findings=(),
        actions=(),
        vigilance=(),
        review=ReviewSummary(queued=0, adjudicated=0, skipped=0, waiting=0, changed=0),
    )


def _inventory() -> tuple[InventoryLine, ...]:
    return (
        InventoryLine(
            device_id=FRACTURE,
            name="BoneView Trauma - détection des fractures sur radiographies standard",
            manufacturer="Gleamer",
            model="BoneView",
            ce_class="IIa",
            udi_di="03760367390012",
            versions=("3.2.0", "3.3.1"),
            departments=("Urgences adultes", "Urgences pédiatriques", "Imagerie ostéo-articulaire"),
            sites=("Hôpital Nord", "Hôpital Sud"),
            date_in_service=date(2023, 3, 6),
            intended_purpose=(
                "Aide à la détection des fractures, luxations, épanchements articulaires et "
                "lésions osseuses focales sur les radiographies standard des membres, du "
                "bassin, du rachis dorsolombaire et du thorax, chez l'adulte et l'enfant de "
                "plus de deux ans ; le résultat est un second avis qui ne remplace pas "
                "l'interprétation du radiologue."
            ),
            ai_based=True,
            claimed_sensitivity=0.91,
            claimed_specificity=0.92,
            risk_missing=(),
        ),
        InventoryLine(
            device_id=LUNG,
            name="Veye Lung Nodules",
            manufacturer="Aidence",
            model="Veye Lung Nodules",
            ce_class="IIb",
            udi_di=None,
            versions=("4.1",),
            departments=("Imagerie thoracique",),
            sites=("Hôpital Nord",),
            date_in_service=date(2024, 1, 15),
            intended_purpose="Détection et mesure des nodules pulmonaires sur scanner thoracique.",
            ai_based=True,
            claimed_sensitivity=0.87,
            claimed_specificity=0.80,
            risk_missing=(),
        ),
        InventoryLine(
            device_id="mammo-density",
            name="Estimation automatique de la densité mammaire",
            manufacturer="Volpara Health",
            model="TruDensity",
            ce_class="IIa",
            udi_di=None,
            versions=("2.0",),
            departments=("Sénologie",),
            sites=("Hôpital Sud",),
            date_in_service=None,
            intended_purpose=None,
            ai_based=True,
            claimed_sensitivity=0.85,
            claimed_specificity=0.85,
            risk_missing=("continuity_plan", "training"),
        ),
    )


def sample_report(devices: int = 2, degraded: bool = True) -> MonthlyReport:
    """The August 2025 report of a synthetic establishment holding the first ``devices``
    (1 or 2) of [fracture detector, lung-nodule detector]; ``degraded`` makes the
    fracture detector red (else green with figures within its claim)."""
    if devices not in (1, 2):
        raise ValueError("the sample holds one or two devices")
    months = [_fracture(degraded), _lung()][:devices]
    manifest = Manifest()
    for dm in months:
        for line in dm.metrics:
            manifest.add(
                ManifestEntry(
                    key=f"{dm.device_id}.{line.metric}",
                    label=f"{dm.device_id} {line.metric} 2025-08",
                    value=line.value,
                    argv=("metrics", "--device", dm.device_id, "--month", "2025-08", "--json"),
                    select={"metric": line.metric},
                    field="value",
                )
            )
    return MonthlyReport(
        month=MONTH,
        start=datetime(2025, 8, 1, tzinfo=TZ),
        end=datetime(2025, 9, 1, tzinfo=TZ),
        as_of=datetime(2025, 8, 31, 23, 59, 59, tzinfo=TZ),
        generated=datetime(2025, 9, 2, 7, 30, tzinfo=TZ),
        establishment="Centre hospitalier de Saint-Exupéry-sur-Loire",
        timezone="Europe/Paris",
        devices=tuple(months),
        inventory=_inventory(),
        reviewers=(),
        manifest=manifest,
        min_cases=30,
        confidence=0.95,
        alpha=0.05,
    )
