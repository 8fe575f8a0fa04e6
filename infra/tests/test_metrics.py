"""Every alarm and dashboard search on the O365Collector namespace watches a metric a function
really emits, and the lister's no-silent-loss alarms and its sweep schedule are in the template.
Offline: reads the template and the functions' sources only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

import sam_translate  # noqa: E402


def _template() -> dict[str, Any]:
    return sam_translate.load_template(REPO / "infra" / "template.yaml")


def _sources() -> str:
    # The functions' own sources, the shared emitter they call for per-record latency, the
    # request metrics of the tenants' budgets, and the audit library whose summary names the
    # auditor's metrics (`AuditSummary::metric_set`).
    paths = [*(REPO / "functions").glob("*/src/**/*.rs"), REPO / "shared" / "src" / "metrics.rs",
             REPO / "shared" / "src" / "client" / "budget" / "stats.rs",
             *(REPO / "shared" / "src" / "audit").glob("**/*.rs")]
    return "".join(p.read_text() for p in paths)


def test_both_functions_emit_the_request_metrics() -> None:
    # The shared emitter counts only if the functions call it.
    for function in ("lister", "fetcher"):
        text = "".join(p.read_text() for p in (REPO / "functions" / function / "src").glob("**/*.rs"))
        assert "take_budget_interval().emit(" in text, f"the {function} emits no request metrics"


def _alarm_metrics(template: dict[str, Any]) -> dict[str, set[str]]:
    """Alarm logical id -> O365Collector metric names it watches (plain or Metrics Insights)."""
    out: dict[str, set[str]] = {}
    for lid, res in template["Resources"].items():
        if res["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = res["Properties"]
        names: set[str] = set()
        if props.get("Namespace") == "O365Collector":
            names.add(props["MetricName"])
        for m in props.get("Metrics", []):
            expr = m.get("Expression", "")
            names.update(re.findall(r"\(\s*(\w+)\s*\)\s+FROM\s+O365Collector", expr))
        if names:
            out[lid] = names
    return out


def test_every_alarm_watches_an_emitted_metric() -> None:
    sources = _sources()
    alarms = _alarm_metrics(_template())
    assert alarms, "no alarm on the O365Collector namespace"
    for lid, names in alarms.items():
        for name in names:
            assert f'"{name}"' in sources, f"{lid} watches {name}, which no function emits"


def test_the_lister_no_loss_alarms_exist() -> None:
    watched = set().union(*_alarm_metrics(_template()).values())
    for name in ("PairStalled", "BlobsNearExpiry", "WatermarkAheadSeconds", "GapsReported",
                 "AuditMissingRecords", "ListingEntriesRejected"):
        assert name in watched, f"no alarm on {name}"


def test_every_dashboard_search_names_an_emitted_metric() -> None:
    body = _template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    text = json.dumps(body)
    searched = set(re.findall(r'MetricName=\\+"(\w+)\\+"', text))
    for name in ("ApiRequests", "ApiThrottledPercent", "ApiRequestsPerMinute",
                 "PairStalled", "LateBlobsRecovered", "BlobsNearExpiry", "WatermarkAheadSeconds",
                 "LateBlobLatenessSeconds", "ListingEntriesRejected",
                 "BlobsQuarantined", "RecordsQuarantined", "MessagesHandedBack", "HandBacksRefused",
                 "AuditMissingRecords", "AuditInconclusive", "AuditHours", "AuditErrors"):
        assert name in searched, f"no dashboard widget shows {name}"
    sources = _sources()
    for name in searched:
        assert f'"{name}"' in sources, f"dashboard metric {name} is emitted by no function"


def test_the_sweep_schedule_invokes_the_lister_with_the_sweep_event() -> None:
    template = _template()
    events = template["Resources"]["ListerFunction"]["Properties"]["Events"]
    sweep = events["Sweep"]["Properties"]
    assert json.loads(sweep["Input"]) == {"action": "sweep"}
    assert template["Parameters"]["SweepSchedule"]["Default"] == "rate(6 hours)"
    event_rs = (REPO / "functions" / "lister" / "src" / "event.rs").read_text()
    assert 'r#"{"action":"sweep"}"#' in event_rs
