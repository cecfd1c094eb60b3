"""Evaluation: counts equal scikit-learn's confusion matrix, rates and intervals scipy's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix

from monitor.cli import cli
from monitor.evaluation import age_band_labels, evaluate_cases
from monitor.storage import Database
from tests.monitor.synthetic import PARIS, synthetic_cases

EXPECTED_KEYS = [
    "device_id",
    "window_start",
    "window_end",
    "site",
    "n",
    "tp",
    "fp",
    "tn",
    "fn",
    "pending",
    "sensitivity",
    "sensitivity_low",
    "sensitivity_high",
    "specificity",
    "specificity_low",
    "specificity_high",
    "ppv",
    "ppv_low",
    "ppv_high",
    "npv",
    "npv_low",
    "npv_high",
]


def _expected_labels(
    predictions: pd.DataFrame, outcomes: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Independent truth as of a date: pathology if known by then, else the report."""
    known = outcomes[outcomes["outcome_datetime"] <= as_of]
    best = (
        known.assign(rank=known["source"].map({"pathology": 0, "report": 1}))
        .sort_values(["accession_number", "rank"])
        .drop_duplicates("accession_number")
        .set_index("accession_number")["outcome"]
    )
    seen = predictions[predictions["exam_datetime"] <= as_of].copy()
    seen["outcome"] = seen["accession_number"].map(best)
    return seen


@pytest.mark.parametrize("as_of", ["2025-01-31", "2025-02-20", "2025-06-30"])
def test_json_counts_equal_sklearn_confusion_matrix(
    registered: Database, db_url: str, tmp_path: Path, as_of: str
) -> None:
    predictions, outcomes, p_path, o_path = synthetic_cases(tmp_path)
    runner = CliRunner()
    for kind, path in (("predictions", p_path), ("outcomes", o_path)):
        result = runner.invoke(
            cli, ["ingest", kind, str(path), "--db", db_url], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli,
        ["evaluate", "--db", db_url, "--by", "site", "--as-of", as_of, "--format", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    cells = json.loads(result.output)

    expected = _expected_labels(
        predictions, outcomes, pd.Timestamp(as_of, tz=PARIS) + pd.Timedelta(days=1, microseconds=-1)
    )
    assert {(c["device_id"], c["site"]) for c in cells} == set(
        expected.groupby(["device_id", "site"]).groups
    )
    for cell in cells:
        assert list(cell) == [*EXPECTED_KEYS, "too_small", "positives_needed", "exams_needed"]
        group = expected[
            (expected["device_id"] == cell["device_id"]) & (expected["site"] == cell["site"])
        ]
        verified = group[group["outcome"].notna()]
        tn, fp, fn, tp = confusion_matrix(
            verified["outcome"] == "positive",
            verified["ai_result"] == "positive",
            labels=[False, True],
        ).ravel()
        assert (cell["tp"], cell["fp"], cell["tn"], cell["fn"]) == (tp, fp, tn, fn)
        assert cell["n"] == len(verified)
        assert cell["pending"] == group["outcome"].isna().sum()
        for name, k, total in (
            ("sensitivity", tp, tp + fn),
            ("specificity", tn, tn + fp),
            ("ppv", tp, tp + fp),
            ("npv", tn, tn + fn),
        ):
            if total == 0:
                assert cell[name] is None and cell[f"{name}_low"] is None
                continue
            ci = binomtest(int(k), int(total)).proportion_ci(method="wilson")
            assert cell[name] == pytest.approx(k / total)
            assert cell[f"{name}_low"] == pytest.approx(ci.low, abs=1e-12)
            assert cell[f"{name}_high"] == pytest.approx(ci.high, abs=1e-12)


def _cases(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["device_id", "exam_datetime", "status"])
    frame["exam_datetime"] = pd.to_datetime(frame["exam_datetime"], utc=True)
    frame["ai_call"] = "positive"
    frame["patient_age"] = [10.0, 50.0, 70.0, None][: len(frame)] + [None] * max(0, len(frame) - 4)
    return frame


def test_monthly_windows_are_cut_in_local_time() -> None:
    # 31 Jan 23:30 UTC is 1 Feb 00:30 in Paris: it belongs to February.
    cases = _cases([("d", "2025-01-31T22:30:00Z", "tp"), ("d", "2025-01-31T23:30:00Z", "fn")])
    as_of = datetime(2025, 3, 1, tzinfo=UTC)
    cells = evaluate_cases(cases, as_of=as_of, tz=PARIS, window="month")
    assert [(c["window_start"], c["window_end"], c["tp"], c["fn"]) for c in cells] == [
        ("2025-01-01T00:00:00+01:00", "2025-02-01T00:00:00+01:00", 1, 0),
        ("2025-02-01T00:00:00+01:00", "2025-03-01T00:00:00+01:00", 0, 1),
    ]


def test_weeks_start_on_monday_and_the_last_window_ends_at_as_of() -> None:
    cases = _cases([("d", "2025-03-05T10:00:00Z", "tp"), ("d", "2025-03-12T10:00:00Z", "tn")])
    as_of = datetime(2025, 3, 12, 18, 0, tzinfo=UTC)
    cells = evaluate_cases(cases, as_of=as_of, tz=PARIS, window="week")
    assert [(c["window_start"], c["window_end"]) for c in cells] == [
        ("2025-03-03T00:00:00+01:00", "2025-03-10T00:00:00+01:00"),
        ("2025-03-10T00:00:00+01:00", "2025-03-12T19:00:00+01:00"),
    ]


def test_age_bands_and_missing_values() -> None:
    assert age_band_labels([18, 65]) == ["<18", "18-64", ">=65"]
    cases = _cases([("d", "2025-03-05T10:00:00Z", "tp")] * 4)
    cells = evaluate_cases(
        cases, as_of=datetime(2025, 4, 1, tzinfo=UTC), tz=PARIS, by=["age_band"], age_bands=[18, 65]
    )
    assert [(c["age_band"], c["tp"]) for c in cells] == [
        ("18-64", 1),
        ("<18", 1),
        (">=65", 1),
        (None, 1),
    ]


def test_empty_cells_give_null_rates_not_errors() -> None:
    cells = evaluate_cases(
        _cases([("d", "2025-03-05T10:00:00Z", "pending")]),
        as_of=datetime(2025, 4, 1, tzinfo=UTC),
        tz=PARIS,
    )
    (cell,) = cells
    assert (cell["n"], cell["pending"], cell["sensitivity"], cell["npv_high"]) == (0, 1, None, None)


def test_unknown_breakdown_is_a_clear_error() -> None:
    from monitor.errors import MonitorError

    with pytest.raises(MonitorError, match="cannot break down by shoe_size"):
        evaluate_cases(
            _cases([("d", "2025-03-05T10:00:00Z", "tp")]),
            as_of=datetime(2025, 4, 1, tzinfo=UTC),
            tz=PARIS,
            by=["shoe_size"],
        )


def _ingested(db_url: str, tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    predictions, outcomes, p_path, o_path = synthetic_cases(tmp_path)
    for kind, path in (("predictions", p_path), ("outcomes", o_path)):
        result = CliRunner().invoke(
            cli, ["ingest", kind, str(path), "--db", db_url], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
    return predictions, outcomes


def test_score_metrics_equal_sklearn_per_device(
    registered: Database, db_url: str, tmp_path: Path
) -> None:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    from metrics import expected_calibration_error

    predictions, outcomes = _ingested(db_url, tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--db",
            db_url,
            "--as-of",
            "2025-03-15",
            "--format",
            "json",
            "--metrics",
            "sensitivity,auc,brier,ece,calibration",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    cells = json.loads(result.output)
    expected = _expected_labels(
        predictions, outcomes, pd.Timestamp("2025-03-16", tz=PARIS) - pd.Timedelta(microseconds=1)
    )
    assert {c["device_id"] for c in cells} == {"frac", "nod"}
    for cell in cells:
        group = expected[(expected["device_id"] == cell["device_id"]) & expected["outcome"].notna()]
        y = (group["outcome"] == "positive").to_numpy()
        scores = group["ai_score"].to_numpy()
        assert cell["auc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
        assert cell["auc_low"] < cell["auc"] < cell["auc_high"]
        assert cell["brier"] == pytest.approx(brier_score_loss(y, scores), abs=1e-12)
        assert cell["ece"] == pytest.approx(expected_calibration_error(y, scores), abs=1e-12)
        assert cell["calibration_slope"] > 0
        assert "specificity" not in cell


def test_all_subgroups_quarters_and_small_cells(
    registered: Database, db_url: str, tmp_path: Path
) -> None:
    _ingested(db_url, tmp_path)
    config = tmp_path / "dmn-monitor.toml"
    config.write_text(
        '[subgroups]\ndimensions = ["site", "patient_sex"]\n[evaluation]\nmin_cases = 200\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--db",
            db_url,
            "--config",
            str(config),
            "--all-subgroups",
            "--window",
            "quarter",
            "--as-of",
            "2025-06-30",
            "--format",
            "json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    cells = json.loads(result.output)
    assert [b for b in dict.fromkeys(c["breakdown"] for c in cells)] == [
        "device",
        "site",
        "patient_sex",
        "site x patient_sex",
    ]
    by_breakdown = {b: [c for c in cells if c["breakdown"] == b] for b in ("device", "site")}
    assert {c["window_start"] for c in cells} == {"2025-01-01T00:00:00+01:00"}
    for device in ("frac", "nod"):
        whole = [c for c in by_breakdown["device"] if c["device_id"] == device]
        parts = [c for c in by_breakdown["site"] if c["device_id"] == device]
        assert whole[0]["n"] == sum(p["n"] for p in parts)
        assert "site" not in whole[0] and "patient_sex" not in parts[0]
    small = [c for c in cells if c["too_small"]]
    assert small, "the intersections hold fewer than 200 verified cases"
    for cell in small:
        assert cell["n"] < 200
        # Buderer: 1.96^2 x 0.9 x 0.1 / 0.05^2 -> 139 positives (claimed sensitivity of frac)
        if cell["device_id"] == "frac":
            assert cell["positives_needed"] == 139
        assert cell["exams_needed"] >= cell["positives_needed"]
    assert all(c["positives_needed"] is None for c in cells if not c["too_small"])

    table = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--db",
            db_url,
            "--config",
            str(config),
            "--by",
            "site,patient_sex",
            "--window",
            "rolling",
            "--days",
            "14",
            "--as-of",
            "2025-02-20",
        ],
        catch_exceptions=False,
    )
    assert table.exit_code == 0, table.output
    assert "too small: needs 139 positives" in table.output
    assert "rolling" in table.output


def test_unknown_metric_is_a_clear_error(registered: Database, db_url: str) -> None:
    result = CliRunner().invoke(cli, ["evaluate", "--db", db_url, "--metrics", "sensitivity,kappa"])
    assert result.exit_code == 1
    assert "unknown metric kappa" in result.output


def test_verification_correction_counts_pending_cases_by_ai_call(
    registered: Database, db_url: str, tmp_path: Path
) -> None:
    from metrics import begg_greenes

    predictions, outcomes = _ingested(db_url, tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--db",
            db_url,
            "--as-of",
            "2025-02-20",
            "--format",
            "json",
            "--metrics",
            "sensitivity,verification",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    expected = _expected_labels(
        predictions, outcomes, pd.Timestamp("2025-02-21", tz=PARIS) - pd.Timedelta(microseconds=1)
    )
    for cell in json.loads(result.output):
        group = expected[expected["device_id"] == cell["device_id"]]
        call = group["ai_result"] == "positive"
        truth = group["outcome"]
        counts = (
            int((call & (truth == "positive")).sum()),
            int((call & (truth == "negative")).sum()),
            int((~call & (truth == "negative")).sum()),
            int((~call & (truth == "positive")).sum()),
            int((call & truth.isna()).sum()),
            int((~call & truth.isna()).sum()),
        )
        assert counts[4] > 0 and counts[5] > 0, "some cases still await their truth"
        assert (cell["pending_positive"], cell["pending_negative"]) == counts[4:]
        assert cell["pending"] == counts[4] + counts[5]
        corrected = begg_greenes(*counts)
        assert cell["sensitivity_corrected"] == pytest.approx(corrected.sensitivity)
        assert cell["sensitivity_corrected_low"] == pytest.approx(corrected.sensitivity_low)
        assert cell["specificity_corrected_high"] == pytest.approx(corrected.specificity_high)
        assert cell["verified_rate_positive"] == pytest.approx(
            (counts[0] + counts[1]) / (counts[0] + counts[1] + counts[4])
        )


def test_claims_and_subgroups_against_the_rest_equal_scipy_and_statsmodels(
    registered: Database, db_url: str, tmp_path: Path
) -> None:
    from scipy.stats import fisher_exact
    from statsmodels.stats.multitest import multipletests

    predictions, outcomes = _ingested(db_url, tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--db",
            db_url,
            "--as-of",
            "2025-06-30",
            "--format",
            "json",
            "--by",
            "site",
            "--by",
            "scanner_manufacturer",
            "--metrics",
            "sensitivity,claim,vs_rest",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    cells = [c for c in json.loads(result.output) if c["device_id"] == "frac"]
    expected = _expected_labels(
        predictions, outcomes, pd.Timestamp("2025-07-01", tz=PARIS) - pd.Timedelta(microseconds=1)
    )
    frac = expected[(expected["device_id"] == "frac") & expected["outcome"].notna()]
    positives = frac[frac["outcome"] == "positive"]
    raw = []
    for cell in cells:
        dimension = cell["breakdown"]
        value = cell[dimension] if cell[dimension] is not None else ""
        mine = positives[positives[dimension].fillna("") == value]
        rest = positives[positives[dimension].fillna("") != value]
        k, n = int((mine["ai_result"] == "positive").sum()), len(mine)
        rk, rn = int((rest["ai_result"] == "positive").sum()), len(rest)
        assert cell["sensitivity_vs_rest"] == pytest.approx(k / n - rk / rn)
        p = fisher_exact([[k, n - k], [rk, rn - rk]]).pvalue
        assert cell["sensitivity_vs_rest_p"] == pytest.approx(p)
        raw.append(p)
        claim = binomtest(k, n, 0.9, alternative="less").pvalue
        assert cell["sensitivity_claimed"] == 0.9
        assert cell["sensitivity_claim_p"] == pytest.approx(claim)
        assert cell["sensitivity_below_claim"] == (cell["sensitivity_high"] < 0.9)
    # Adjusted across every subgroup of the device tested in this evaluation.
    holm = multipletests(raw, method="holm")[1]
    bh = multipletests(raw, method="fdr_bh")[1]
    assert [c["sensitivity_vs_rest_p_holm"] for c in cells] == pytest.approx(list(holm))
    assert [c["sensitivity_vs_rest_p_bh"] for c in cells] == pytest.approx(list(bh))


def test_the_table_shows_claims_and_subgroups_against_the_rest(
    registered: Database, db_url: str, tmp_path: Path
) -> None:
    _ingested(db_url, tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--db",
            db_url,
            "--as-of",
            "2025-06-30",
            "--by",
            "site",
            "--metrics",
            "sensitivity,claim,vs_rest,verification",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[1]
    for column in ("vs claim", "sensitivity_vs_rest", "sensitivity_corrected"):
        assert column in header
    assert "sens p=" in result.output and "p_holm=" in result.output
