"""The query layer, proven in a real engine: a simulator run is collected (`o365ctl run
--once`) and compacted (`o365ctl compact`), then DuckDB reads the Parquet output with Hive
partitions and runs every Athena named query of infra/template.yaml. Each answer is checked
against what the simulator published (its ledger, and the blob bodies it serves).

The DuckDB translation is mechanical and stated here (see `duck`):
- the Glue table `audit_records` is a DuckDB view over the same files, with Hive partition
  columns as strings (`hive_types_autocast = false`), as the Glue table declares them;
- `json_extract_scalar` (Athena) is DuckDB's `json_extract_string`, `from_iso8601_timestamp`
  is a cast to TIMESTAMPTZ: both defined as macros, so the query text runs unchanged;
- positional parameters (`?`) are passed as they would be to Athena's ExecutionParameters.

Needs the binaries (`make test` builds them first: `cargo build --workspace --bins`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))
import sam_translate  # noqa: E402

TENANT = "00000000-0000-0000-0000-00000000a016"
CLIENT = "00000000-0000-0000-0000-000000000c01"
SECRET = "o365-sim-client-secret"
PREFIX = "o365"


def _binary(name: str) -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    path = target / "debug" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build it first (cargo build -p {name if name != 'o365-sim' else 'o365-sim'})")
    return path


def _named_queries() -> dict[str, str]:
    template = sam_translate.load_template(REPO / "infra" / "template.yaml")
    return {
        r["Properties"]["Name"]: r["Properties"]["QueryString"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }


# ------------------------------------------------------------------ the simulator run


class Run:
    """One collected and compacted simulator run, and what the simulator published."""

    def __init__(self, out: Path, ledger: dict[str, Any], records: list[dict[str, Any]]):
        self.out = out
        self.ledger = ledger
        # Every published record of the tenant, one per Id (first copy), as served.
        self.records = records


def _get(url: str, token: str | None = None) -> bytes:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback only
        return r.read()


def _token(base: str) -> str:
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "scope": f"{base}/.default",
        }
    ).encode()
    req = urllib.request.Request(f"{base}/{TENANT}/oauth2/v2.0/token", data=form)
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback only
        return json.loads(r.read())["access_token"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("data")
    sim = subprocess.Popen(
        [
            str(_binary("o365-sim")),
            "--listen", "127.0.0.1:0",
            "--tenant", TENANT,
            "--history", "1d",
            "--records-per-hour", "60",
            "--throttle-per-minute", "1000000",
            "--speed", "0",
            "--seed", "16",
            "--scenario", "duplicate-records=0.2",
            "--scenario", "duplicate-across-windows=0.3",
            "--scenario", "duplicate-in-page=0.2",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        first = sim.stdout.readline()
        assert "listening on" in first, first
        base = first.split("listening on", 1)[1].strip()
        env = {**os.environ, "O365_CLIENT_SECRET": SECRET}
        ctl = str(_binary("o365ctl"))
        common = ["--out", str(out), "-q"]
        tenant = ["--tenant-id", TENANT, "--client-id", CLIENT, "--api-root", base, "--login-root", base]
        subprocess.run([ctl, "run", "--once", *common, *tenant], env=env, check=True, timeout=600)
        subprocess.run([ctl, "compact", *common], env=env, check=True, timeout=600)
        ledger = json.loads(_get(f"{base}/_sim/ledger"))
        token = _token(base)
        records: dict[str, dict[str, Any]] = {}
        for blob in ledger["published"]:
            if blob["tenant_id"] != TENANT or not blob["visible"]:
                continue
            for rec in json.loads(_get(blob["content_uri"], token)):
                records.setdefault(rec["Id"], rec)
        return Run(out, ledger, list(records.values()))
    finally:
        sim.terminate()
        sim.wait(timeout=30)


@pytest.fixture(scope="module")
def duck(run: Run) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    files = run.out / PREFIX / "parquet" / "*" / "*" / "*" / "*.parquet"
    con.execute(
        f"CREATE VIEW audit_records AS SELECT * FROM read_parquet('{files}', "
        "hive_partitioning = true, hive_types_autocast = false)"
    )
    con.execute("CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)")
    con.execute("CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)")
    return con


# ------------------------------------------------------------------ record helpers (the oracle)


def member(rec: dict[str, Any], name: str) -> Any:
    """A member by the documented rule: the exact spelling, else the first in another case."""
    if name in rec:
        return rec[name]
    return next((v for k, v in rec.items() if k.lower() == name.lower()), None)


def text(rec: dict[str, Any], name: str) -> str | None:
    v = member(rec, name)
    if v is None:
        return None
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def event_time(rec: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(rec["CreationTime"].rstrip("Z")).replace(tzinfo=timezone.utc)


def ids(rows: list[tuple[Any, ...]]) -> list[str]:
    return sorted(r[-1] for r in rows)


# ------------------------------------------------------------------ the checks


def test_one_row_per_published_record_id(run: Run, duck: duckdb.DuckDBPyConnection) -> None:
    published = [i for b in run.ledger["published"] if b["tenant_id"] == TENANT and b["visible"] for i in b["record_ids"]]
    doubled = sum(n - 1 for n in Counter(published).values())
    assert doubled > 0, "the simulator injected no duplicate record: the check would prove nothing"
    relisted = [b for b in run.ledger["published"] if b["relisted_at"]]
    assert relisted, "no blob was listed twice"
    rows = duck.execute(
        "SELECT tenant_id, count(*), count(DISTINCT id) FROM audit_records GROUP BY tenant_id"
    ).fetchall()
    assert rows == [(TENANT, len(set(published)), len(set(published)))]
    # Each row keeps its source record whole: the stored record parses to what was served.
    served = {r["Id"]: r for r in run.records}
    for rid, record in duck.execute("SELECT id, record FROM audit_records").fetchall():
        assert json.loads(record) == served[rid]


def test_rows_are_in_their_event_date(run: Run, duck: duckdb.DuckDBPyConnection) -> None:
    rows = duck.execute("SELECT id, event_date, event_time FROM audit_records").fetchall()
    want = {r["Id"]: event_time(r) for r in run.records}
    for rid, date, at in rows:
        assert date == want[rid].date().isoformat()
        assert at == want[rid]


def _dates(run: Run) -> tuple[str, str]:
    days = sorted(event_time(r).date().isoformat() for r in run.records)
    return days[0], days[-1]


def _in(run: Run, ct: str) -> list[dict[str, Any]]:
    wanted = {i for b in run.ledger["published"] if b["tenant_id"] == TENANT and b["content_type"] == ct for i in b["record_ids"]}
    return [r for r in run.records if r["Id"] in wanted]


def _ip(raw: Any) -> str | None:
    """The address in one client IP value, as the normalizer reads it (README, "client IP"):
    a plain, bracketed or IPv4-with-port address, IPv4-mapped IPv6 given as IPv4; placeholders,
    host names, zone ids and bad ports give None."""
    if not isinstance(raw, str):
        return None
    s = raw.strip()
    if s.lower() in ("", "<null>", "null", "unknown", "-") or "%" in s:
        return None

    def parse(text: str) -> str | None:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return None
        mapped = getattr(ip, "ipv4_mapped", None)
        return str(mapped or ip)

    def port_ok(p: str) -> bool:
        return p.isdigit() and 0 < int(p) <= 65535

    if (plain := parse(s)) is not None:
        return plain
    if s.startswith("["):
        inside, _, after = s[1:].partition("]")
        if after and not (after.startswith(":") and port_ok(after[1:])):
            return None
        return parse(inside)
    host, sep, port = s.rpartition(":")
    if not sep or not port_ok(port):
        return None
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        return None


def _client_ip(r: dict[str, Any]) -> str | None:
    """The record's client address by the normalizer's documented order: `ClientIP`,
    `ClientIp`, `ClientIPAddress`, `ActorIpAddress`, then an Entra `ExtendedProperties` entry
    named `ClientIP`, `ClientIPAddress`, `ActorIpAddress` or `IpAddress` (any case)."""
    for key in ("ClientIP", "ClientIp", "ClientIPAddress", "ActorIpAddress"):
        if (ip := _ip(r.get(key))) is not None:
            return ip
    names = {"clientip", "clientipaddress", "actoripaddress", "ipaddress"}
    for entry in r.get("ExtendedProperties") or []:
        if isinstance(entry, dict) and str(entry.get("Name", "")).lower() in names:
            if (ip := _ip(entry.get("Value"))) is not None:
                return ip
    return None


def check_signin_failures(run: Run, rows: list[tuple[Any, ...]]) -> int:
    want = Counter(
        (text(r, "UserId"), _client_ip(r))
        for r in _in(run, "Audit.AzureActiveDirectory")
        if text(r, "Operation") == "UserLoginFailed"
    )
    assert {(u, ip): n for u, ip, n, _, _ in rows} == dict(want)
    return len(rows)


def _listing(run: Run, ct: str | None, keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    pool = _in(run, ct) if ct else run.records
    return sorted(r["Id"] for r in pool if keep(r))


def check_inbox_rules(run: Run, rows: list[tuple[Any, ...]]) -> int:
    def keep(r: dict[str, Any]) -> bool:
        op = text(r, "Operation")
        raw = json.dumps(r, ensure_ascii=False)
        forwards = any(k in raw for k in ("ForwardingSmtpAddress", "ForwardingAddress", "DeliverToMailboxAndForward"))
        return op in ("New-InboxRule", "Set-InboxRule", "UpdateInboxRules") or (op in ("Set-Mailbox", "Set-MailboxForwarding") and forwards)

    assert ids(rows) == _listing(run, "Audit.Exchange", keep)
    return len(rows)


def check_mailbox_grants(run: Run, rows: list[tuple[Any, ...]]) -> int:
    ops = {"Add-MailboxPermission", "Add-RecipientPermission", "Add-MailboxFolderPermission", "Set-MailboxFolderPermission", "AddFolderPermissions", "UpdateFolderPermissions"}
    assert ids(rows) == _listing(run, "Audit.Exchange", lambda r: text(r, "Operation") in ops)
    return len(rows)


def check_shared_externally(run: Run, rows: list[tuple[Any, ...]]) -> int:
    def keep(r: dict[str, Any]) -> bool:
        op = text(r, "Operation")
        if op in ("AnonymousLinkCreated", "AnonymousLinkUpdated", "AnonymousLinkUsed"):
            return True
        sharing = op in ("SharingSet", "SharingInvitationCreated", "AddedToSecureLink", "SecureLinkCreated")
        return sharing and r.get("TargetUserOrGroupType") in ("Guest", "Partner")

    assert ids(rows) == _listing(run, "Audit.SharePoint", keep)
    by_id = {r["Id"]: r for r in run.records}
    for row in rows:
        assert row[4] == by_id[row[-1]].get("TargetUserOrGroupName")
    return len(rows)


def check_role_changes(run: Run, rows: list[tuple[Any, ...]]) -> int:
    ops = {
        "Add member to role.", "Remove member from role.", "Add eligible member to role.",
        "Remove eligible member from role.", "Add scoped member to role.", "Remove scoped member from role.",
        "New-ManagementRoleAssignment", "Remove-ManagementRoleAssignment", "Set-ManagementRoleAssignment",
        "Add-RoleGroupMember", "Remove-RoleGroupMember", "Update-RoleGroupMember",
    }
    assert ids(rows) == _listing(run, None, lambda r: text(r, "Operation") in ops)
    return len(rows)


def check_dlp_matches(run: Run, rows: list[tuple[Any, ...]]) -> int:
    assert ids(rows) == _listing(run, "DLP.All", lambda r: text(r, "Operation") == "DlpRuleMatch")
    by_id = {r["Id"]: r for r in run.records}
    for row in rows:
        # Some matches carry no policy or no rule (`"PolicyDetails": []`): the query gives NULLs.
        policy = _first(by_id[row[-1]].get("PolicyDetails"))
        rule = _first(policy.get("Rules"))
        assert row[4:7] == (policy.get("PolicyName"), rule.get("RuleName"), rule.get("Severity"))
    return len(rows)


def _first(items: Any) -> dict[str, Any]:
    """The first element of a JSON array when it is an object, else an empty object."""
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def check_activity_by_user(run: Run, rows: list[tuple[Any, ...]], user: str, start: datetime, end: datetime) -> int:
    want = sorted(
        r["Id"] for r in run.records
        if (text(r, "UserId") or "").lower() == user.lower() and start <= event_time(r) < end
    )
    assert ids(rows) == want
    times = [row[0] for row in rows]
    assert times == sorted(times)
    return len(rows)


CHECKS: dict[str, Callable[[Run, list[tuple[Any, ...]]], int]] = {
    "o365-signin-failures": check_signin_failures,
    "o365-inbox-rules-and-forwarding": check_inbox_rules,
    "o365-mailbox-permission-grants": check_mailbox_grants,
    "o365-files-shared-externally": check_shared_externally,
    "o365-admin-role-changes": check_role_changes,
    "o365-dlp-matches": check_dlp_matches,
}


def test_every_named_query_has_a_check() -> None:
    assert set(_named_queries()) == set(CHECKS) | {"o365-activity-by-user"}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_named_query_answers_match_the_ledger(name: str, run: Run, duck: duckdb.DuckDBPyConnection) -> None:
    sql = _named_queries()[name]
    first, last = _dates(run)
    rows = duck.execute(sql, [TENANT, first, last]).fetchall()
    assert CHECKS[name](run, rows) > 0, f"{name} found nothing: the simulator run does not exercise it"
    # The date range prunes: a range before the data finds nothing.
    assert duck.execute(sql, [TENANT, "2000-01-01", "2000-01-02"]).fetchall() == []
    # And another tenant's id finds nothing.
    assert duck.execute(sql, ["00000000-0000-0000-0000-000000000bad", first, last]).fetchall() == []


def test_activity_by_user_over_a_time_range(run: Run, duck: duckdb.DuckDBPyConnection) -> None:
    sql = _named_queries()["o365-activity-by-user"]
    user = Counter(text(r, "UserId") for r in run.records if text(r, "UserId")).most_common(1)[0][0]
    times = sorted(event_time(r) for r in run.records)
    start, end = times[len(times) // 4], times[3 * len(times) // 4]
    iso = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in (start, end)]
    rows = duck.execute(sql, [TENANT, user.upper(), *iso, *iso]).fetchall()
    assert check_activity_by_user(run, rows, user, start, end) > 0
    everything = duck.execute(sql, [TENANT, user, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"]).fetchall()
    assert len(everything) > len(rows)


def test_the_glue_table_declares_the_parquet_columns() -> None:
    template = sam_translate.load_template(REPO / "infra" / "template.yaml")
    table = template["Resources"]["RecordsTable"]["Properties"]["TableInput"]
    declared = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    schema = (REPO / "compact" / "src" / "schema.rs").read_text()
    in_source = [line.split('"')[1] for line in schema.splitlines() if line.strip().startswith('("') and "Kind::" in line]
    assert declared == in_source
    assert [k["Name"] for k in table["PartitionKeys"]] == ["tenant_id", "content_type", "event_date"]
