"""The fetch-side loss signals each have an alarm and a dashboard widget: permanent failures by
kind, and the main queue's oldest message age at a threshold that leaves time before expiry
(offline: reads the template and the fetcher's source). That every alarm watches an emitted
metric is checked in test_metrics.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

import sam_translate  # noqa: E402


def _alarms() -> dict[str, dict[str, Any]]:
    template = sam_translate.load_template(REPO / "infra" / "template.yaml")
    return {lid: r["Properties"] for lid, r in template["Resources"].items()
            if r["Type"] == "AWS::CloudWatch::Alarm"}


def _watched(props: dict[str, Any]) -> set[tuple[str, str]]:
    """(namespace, metric) pairs an alarm watches, from MetricName or Metrics Insights SQL."""
    out = set()
    if "MetricName" in props:
        out.add((props["Namespace"], props["MetricName"]))
    for m in props.get("Metrics", []):
        expr = m.get("Expression", "")
        for fn_metric, source in re.findall(r"SELECT \w+\((\w+)\) FROM (?:SCHEMA\()?(\w+)", expr):
            out.add((source, fn_metric))
    return out


def test_permanent_failures_and_queue_age_are_alarmed() -> None:
    alarms = _alarms()
    watched = {pair for props in alarms.values() for pair in _watched(props)}
    assert ("O365Collector", "PermanentFailures") in watched
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage") in watched
    queue_age = next(p for p in alarms.values() if p.get("MetricName") == "ApproximateAgeOfOldestMessage")
    assert queue_age["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["Queue", "QueueName"]}
    # Emitted with the Kind dimension (the alarm's SCHEMA) and as a plain total.
    report = (REPO / "functions" / "fetcher" / "src" / "report.rs").read_text()
    assert '.dimension("Kind", kind.as_str())' in report
    assert report.count('.count("PermanentFailures", 1)') == 2


def test_queue_age_threshold_leaves_time_before_expiry() -> None:
    template = sam_translate.load_template(REPO / "infra" / "template.yaml")
    params = template["Parameters"]
    threshold = int(params["QueueAgeAlarmThresholdSeconds"]["Default"])
    timeout = params["FetcherTimeout"]["Default"]
    visibility = template["Mappings"]["FetcherTimeouts"][timeout]["VisibilityTimeout"]
    retry_path = int(params["MaxReceiveCount"]["Default"]) * int(visibility)
    # Above the slowest retry path at the defaults (no false alarm while SQS retries), and at
    # most a day, so more than 6 days of a blob's 7-day life remain when it fires.
    assert retry_path < threshold <= 24 * 3600


def test_dashboard_shows_both() -> None:
    text = (REPO / "infra" / "template.yaml").read_text()
    assert 'MetricName=\\"PermanentFailures\\"' in text
    assert '"value": ${QueueAgeAlarmThresholdSeconds}' in text


def test_quarantine_is_alarmed_and_shown() -> None:
    # Quarantine means records did not reach the data: loud, from the first blob.
    alarm = next(p for p in _alarms().values() if ("O365Collector", "BlobsQuarantined") in _watched(p))
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["EvaluationPeriods"] == 1
    text = (REPO / "infra" / "template.yaml").read_text()
    for name in ("BlobsQuarantined", "RecordsQuarantined"):
        assert f'MetricName=\\"{name}\\"' in text, f"no dashboard widget shows {name}"


def test_the_audit_is_alarmed_on_missing_records_and_on_errors() -> None:
    # A record Purview has and the bucket lacks is loud from the first one, over every tenant:
    # the alarm sums the plain total the auditor emits beside its TenantId series.
    alarms = _alarms()
    missing = next(p for p in alarms.values() if ("O365Collector", "AuditMissingRecords") in _watched(p))
    assert missing["Threshold"] == 0 and missing["ComparisonOperator"] == "GreaterThanThreshold"
    assert missing["Metrics"][0]["Expression"] == "SELECT SUM(AuditMissingRecords) FROM O365Collector"
    errors = alarms["AuditorErrorsAlarm"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"][0]["Value"] == {"Ref": "AuditorFunction"}
    # The library names the figures; the function emits them per tenant and as a plain total.
    report = (REPO / "shared" / "src" / "audit" / "report.rs").read_text()
    for name in ("AuditMissingRecords", "AuditInconclusive", "AuditHours"):
        assert f'.count("{name}"' in report, name
    metrics = (REPO / "functions" / "auditor" / "src" / "metrics.rs").read_text()
    assert '.dimension("TenantId", tenant.to_string())' in metrics
    assert "total.metric_set()" in metrics and '.count("AuditErrors"' in metrics
    text = (REPO / "infra" / "template.yaml").read_text()
    assert 'MetricName=\\"AuditMissingRecords\\"' in text and 'MetricName=\\"AuditInconclusive\\"' in text
