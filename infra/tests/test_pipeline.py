"""Runs one content blob through the deployed stack: queue -> fetcher -> bucket.

The stack (infra/template.yaml, translated from SAM) is deployed to moto with the real
`o365-fetcher` debug build as the fetcher's code. moto cannot run a function (no docker), so
this test plays the two parts of AWS that would: the SQS event source mapping (receive from
the deployed queue, build the SQS event, delete what the function did not report as failed)
and the Lambda service (a minimal Runtime API on 127.0.0.1 that the real binary polls, with
the environment the deployed function's configuration holds, nothing else). The Management
Activity API is the real `o365-sim` binary; the tenants secret of the stack points at it.

What it proves:
- the template gives the fetcher every setting it needs (the binary starts with only the
  deployed configuration's environment plus what Lambda itself sets);
- a message built per the queue contract, sent to the deployed queue, ends as exactly one
  object at the documented key, whose lines minus `_o365` are the blob's records in order;
- a second delivery of the same message is a no-op (no download, same object);
- a forged message whose content_uri points at another host gets no connection (so no
  token leaks), leaves an error report under `_errors/` and is not handed back.
"""

from __future__ import annotations

import gzip
import hashlib
import base64
import json
import os
import queue
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from moto_stack import REGION, REPO, built_binary, client, deploy, free_port, moto_endpoint, target_dir

TENANT = "00000000-0000-0000-0000-000000000001"  # o365_sim::DEFAULT_TENANT_ID
CLIENT_ID = "00000000-0000-0000-0000-000000000c01"  # o365-sim --client-id default
CLIENT_SECRET = "o365-sim-client-secret"  # o365-sim --client-secret default (a test value)
CONTENT_TYPE = "Audit.Exchange"
# The stack's PublisherId parameter, and the one this test sends itself: distinct from the
# tenant id and from each other, so the simulator's ledger tells the callers apart.
STACK_PUBLISHER = "00000000-0000-0000-0000-0000000000a1"
TEST_PUBLISHER = "00000000-0000-0000-0000-0000000000b2"
WAIT = 60.0  # seconds any single step may take before the test gives up (not a timing assertion)


# ------------------------------------------------------------------------------------ binaries


@pytest.fixture(scope="module")
def binaries() -> dict[str, Path]:
    """The debug builds of the fetcher and the simulator, built now if missing."""
    names = ("o365-fetcher", "o365-sim")
    found = {n: built_binary(n) for n in names}
    if any(p is None for p in found.values()):
        subprocess.run(["cargo", "build", "-p", "o365-fetcher", "-p", "o365-sim"], cwd=REPO, check=True)
        found = {n: target_dir() / "debug" / n for n in names}
    for n, p in found.items():
        assert p is not None and p.is_file(), f"no build of {n} at {p}"
    return {n: p for n, p in found.items() if p is not None}


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no output)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


# ------------------------------------------------------------------------------------ simulator


class Sim:
    """The running o365-sim: its URL and a few API calls made the way a collector makes them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._token: Optional[str] = None

    def _call(self, method: str, url: str, data: Optional[bytes] = None,
              headers: Optional[dict[str, str]] = None) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers.items()), e.read()

    def token(self) -> str:
        if self._token is None:
            form = urllib.parse.urlencode({
                "grant_type": "client_credentials", "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, "scope": f"{self.url}/.default"}).encode()
            status, _, body = self._call("POST", f"{self.url}/{TENANT}/oauth2/v2.0/token", form,
                                         {"Content-Type": "application/x-www-form-urlencoded"})
            assert status == 200, body
            self._token = json.loads(body)["access_token"]
        return self._token

    def api(self, method: str, url: str) -> tuple[int, dict[str, str], bytes]:
        sep = "&" if "?" in url else "?"
        return self._call(method, f"{url}{sep}PublisherIdentifier={TEST_PUBLISHER}", b"" if method == "POST" else None,
                          {"Authorization": f"Bearer {self.token()}"})

    def feed(self, tail: str) -> str:
        return f"{self.url}/api/v1.0/{TENANT}/activity/feed/{tail}"

    def advance(self, seconds: int) -> None:
        status, _, body = self._call("POST", f"{self.url}/_sim/clock/advance?seconds={seconds}", b"")
        assert status == 200, body

    def ledger(self) -> dict[str, Any]:
        status, _, body = self._call("GET", f"{self.url}/_sim/ledger")
        assert status == 200
        return json.loads(body)


@pytest.fixture(scope="module")
def sim(binaries: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    logs = tmp_path_factory.mktemp("sim")
    port = free_port()
    out, err = logs / "stdout", logs / "stderr"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen([str(binaries["o365-sim"]), "--listen", f"127.0.0.1:{port}"],
                                stdout=o, stderr=e, cwd=REPO)
    try:
        deadline = time.monotonic() + WAIT
        while not out.read_text().endswith("\n") and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first = out.read_text().splitlines()[:1]
        assert first and first[0].startswith("o365-sim listening on "), f"o365-sim: {first}\n{_tail(err)}"
        url = first[0].removeprefix("o365-sim listening on ").strip()
        assert url == f"http://127.0.0.1:{port}", url
        yield Sim(url)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def blob(sim: Sim) -> dict[str, Any]:
    """A real listed Audit.Exchange blob: its listing entry and the body the simulator serves."""
    status, _, body = sim.api("POST", sim.feed(f"subscriptions/start?contentType={CONTENT_TYPE}"))
    assert status == 200, body
    entries: list[dict[str, Any]] = []
    for _ in range(3):
        status, _, body = sim.api("GET", sim.feed(f"subscriptions/content?contentType={CONTENT_TYPE}"))
        assert status == 200, body
        entries = json.loads(body)
        if entries:
            break
        sim.advance(3600)  # content becomes listable over simulated time
    assert entries, "the simulator listed no Audit.Exchange blob"
    entry = entries[0]
    status, _, raw = sim.api("GET", entry["contentUri"])
    assert status == 200, raw
    records = json.loads(raw)
    assert isinstance(records, list) and records
    return {"entry": entry, "records": records}


# ------------------------------------------------------------------------------------ the stack


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def stack(endpoint: str, binaries: dict[str, Path], sim: Sim) -> dict[str, Any]:
    deployed = deploy(endpoint, {"PublisherId": STACK_PUBLISHER}, json.dumps({"tenants": []}), print,
                      {"FetcherFunction": binaries["o365-fetcher"]})
    # The tenants configuration, in the secret the stack was given, pointing at the simulator.
    client("secretsmanager", endpoint).put_secret_value(
        SecretId=deployed["outputs"]["TenantsSecretArn"],
        SecretString=json.dumps({"tenants": [{
            "tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "api_root": sim.url, "login_root": sim.url}]}))
    return deployed


# ------------------------------------------------------------------------------------ Lambda


class RuntimeApi:
    """A minimal Lambda Runtime API (2018-06-01) on 127.0.0.1: hands out one event per
    `invoke` and collects what the function answers."""

    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self.events: "queue.Queue[tuple[str, bytes]]" = queue.Queue()
        self.results: dict[str, tuple[str, bytes]] = {}
        self.init_errors: list[bytes] = []
        self.done = threading.Condition()
        self.stopping = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes = b"", headers: Optional[dict[str, str]] = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self._answer(404, b'{"errorType":"NotFound"}')
                while not api.stopping.is_set():
                    try:
                        request_id, event = api.events.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    deadline_ms = int((time.time() + 300) * 1000)  # the template's FetcherTimeout
                    return self._answer(200, event, {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                    })

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.split("/")
                if self.path == "/2018-06-01/runtime/init/error":
                    with api.done:
                        api.init_errors.append(body)
                        api.done.notify_all()
                elif len(parts) == 6 and parts[:4] == ["", "2018-06-01", "runtime", "invocation"] \
                        and parts[5] in ("response", "error"):
                    with api.done:
                        api.results[parts[4]] = (parts[5], body)
                        api.done.notify_all()
                else:
                    return self._answer(404, b'{"errorType":"NotFound"}')
                self._answer(202, b'{"status":"OK"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def invoke(self, event: dict[str, Any], proc: subprocess.Popen[bytes], log: Path) -> Any:
        """Hands `event` to the function and returns its response (fails on an error report)."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, json.dumps(event).encode()))
        deadline = time.monotonic() + WAIT
        with self.done:
            while request_id not in self.results and not self.init_errors:
                assert proc.poll() is None, f"fetcher exited ({proc.returncode}):\n{_tail(log)}"
                assert time.monotonic() < deadline, f"no answer from the fetcher:\n{_tail(log)}"
                self.done.wait(0.2)
        assert not self.init_errors, f"init error {self.init_errors}:\n{_tail(log)}"
        kind, body = self.results.pop(request_id)
        assert kind == "response", f"invocation error {body!r}:\n{_tail(log)}"
        return json.loads(body)

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fetcher(stack: dict[str, Any], endpoint: str, binaries: dict[str, Path]) -> Iterator[dict[str, Any]]:
    """The fetcher binary running as the deployed function, polling our Runtime API."""
    cfg = client("lambda", endpoint).get_function_configuration(
        FunctionName=stack["outputs"]["FetcherFunctionName"])
    template_env = {k: str(v) for k, v in cfg["Environment"]["Variables"].items()}
    runtime = RuntimeApi(cfg["FunctionArn"])
    env = {
        **template_env,
        # what Lambda itself sets in a provided.al2023 execution environment
        "AWS_LAMBDA_RUNTIME_API": runtime.address,
        "AWS_LAMBDA_FUNCTION_NAME": cfg["FunctionName"],
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(cfg["MemorySize"]),
        "AWS_LAMBDA_FUNCTION_VERSION": cfg.get("Version", "$LATEST"),
        "AWS_LAMBDA_LOG_GROUP_NAME": cfg.get("LoggingConfig", {}).get("LogGroup", ""),
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]test",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "LAMBDA_TASK_ROOT": "/var/task",
        "TZ": ":UTC",
        # moto stands in for every AWS endpoint
        "AWS_ENDPOINT_URL": endpoint,
    }
    log = Path(tempfile.mkdtemp(prefix="o365-fetcher-")) / "output.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(binaries["o365-fetcher"])], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=log.parent)
    try:
        yield {"proc": proc, "log": log, "runtime": runtime, "config": cfg, "template_env": template_env}
    finally:
        _stop(proc)
        runtime.close()


# ------------------------------------------------------------------------------------ helpers


def _listing_time(value: str) -> str:
    """A listing timestamp in the queue contract's `YYYY-MM-DDTHH:MM:SS.mmmZ` form."""
    t = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _message(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "format_version": 1,
        "tenant_id": TENANT,
        "content_type": entry["contentType"],
        "content_id": entry["contentId"],
        "content_uri": entry["contentUri"],
        "content_created": _listing_time(entry["contentCreated"]),
        "content_expiration": _listing_time(entry["contentExpiration"]),
    }


def _deliver(stack: dict[str, Any], endpoint: str, fetcher: dict[str, Any], body: str) -> dict[str, Any]:
    """Sends `body` to the deployed queue, then does what the event source mapping does: receives
    it, invokes the function with an SQS event, deletes it unless reported failed. Returns the
    function's batch response."""
    sqs = client("sqs", endpoint)
    url = stack["outputs"]["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=300,
                                  AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
    assert [m["MessageId"] for m in got] == [sent["MessageId"]]
    m = got[0]
    assert m["Body"] == body and m["MD5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    assert int(m["Attributes"]["ApproximateReceiveCount"]) >= 1
    event = {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m["Attributes"],
        "messageAttributes": {},
        "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": stack["outputs"]["QueueArn"],
        "awsRegion": REGION,
    }]}
    response = fetcher["runtime"].invoke(event, fetcher["proc"], fetcher["log"])
    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    if m["MessageId"] not in failed:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return response


def _queue_is_empty(stack: dict[str, Any], endpoint: str) -> None:
    sqs = client("sqs", endpoint)
    url = stack["outputs"]["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0", attrs
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0", attrs
    assert not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages")


def _keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    s3 = client("s3", endpoint)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def _blob_requests(sim: Sim, content_id: str) -> list[dict[str, Any]]:
    """The simulator's ledger of downloads of `content_id` by the collector (not by this test)."""
    return [r for r in sim.ledger()["requests"]
            if r.get("content_id") == content_id and r.get("publisher_identifier") != TEST_PUBLISHER]


# ------------------------------------------------------------------------------------ tests


def test_deployed_function_is_the_binary_we_run(stack: dict[str, Any], fetcher: dict[str, Any]) -> None:
    """The code moto deployed is the zip of the very binary this test runs, and the template's
    environment is everything the binary is given besides what Lambda itself sets."""
    digest = base64.b64encode(hashlib.sha256(stack["zips"]["FetcherFunction"]).digest()).decode()
    assert fetcher["config"]["CodeSha256"] == digest
    env = fetcher["template_env"]
    assert env["BUCKET"] == stack["outputs"]["BucketName"]
    assert env["TENANTS_SECRET_ARN"] == stack["outputs"]["TenantsSecretArn"]
    assert env["QUEUE_URL"] == stack["outputs"]["QueueUrl"]
    assert set(env) == {"BUCKET", "PREFIX", "TENANTS_SECRET_ARN", "PUBLISHER_ID", "RUST_LOG", "COMPRESSION",
                        "MAX_CONCURRENCY", "TENANTS_RELOAD_SECONDS", "API_RATE_PER_MINUTE",
                        "FETCHER_MAX_CONCURRENCY", "FETCHER_BATCH_SIZE", "QUEUE_URL"}


def test_message_through_queue_fetcher_bucket(stack: dict[str, Any], endpoint: str, fetcher: dict[str, Any],
                                              blob: dict[str, Any], sim: Sim) -> None:
    out = stack["outputs"]
    bucket, prefix = out["BucketName"], out["Prefix"]
    msg = _message(blob["entry"])
    body = json.dumps(msg)

    response = _deliver(stack, endpoint, fetcher, body)
    assert response == {"batchItemFailures": []}, _tail(fetcher["log"])
    _queue_is_empty(stack, endpoint)

    created = datetime.strptime(msg["content_created"], "%Y-%m-%dT%H:%M:%S.%fZ")
    key = (f"{prefix}/tenant_id={TENANT}/content_type={CONTENT_TYPE}/dt={created:%Y-%m-%d}/hour={created:%H}/"
           f"{msg['content_id']}.json.gz")
    assert _keys(endpoint, bucket, f"{prefix}/tenant_id=") == [key]
    stored = client("s3", endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    lines = gzip.decompress(stored).decode().splitlines()
    records = [json.loads(line) for line in lines]
    provenance = [r.pop("_o365") for r in records]
    assert records == blob["records"]
    # every member kept, in its original order
    assert [list(r) for r in records] == [list(r) for r in blob["records"]]
    # Its create-only manifest entry, beside it under _manifest/, records exactly these bytes.
    entry_key = f"{prefix}/_manifest/{key[len(prefix) + 1:].removesuffix('.json.gz')}.json"
    assert _keys(endpoint, bucket, f"{prefix}/_manifest/") == [entry_key]
    entry = json.loads(client("s3", endpoint).get_object(Bucket=bucket, Key=entry_key)["Body"].read())
    assert entry["key"] == key and entry["content_id"] == msg["content_id"]
    assert entry["sha256"] == hashlib.sha256(stored).hexdigest() and entry["size"] == len(stored)
    assert entry["records"] == len(records)
    for p in provenance:
        assert p["tenant_id"] == TENANT
        assert p["content_type"] == CONTENT_TYPE
        assert p["content_id"] == msg["content_id"]
        assert _listing_time(p["content_created"]) == msg["content_created"]
        assert p["fetched_at"] and p["collector_version"]
    downloads = _blob_requests(sim, msg["content_id"])
    assert [r["status"] for r in downloads] == [200]

    # A second delivery of the same message: no download, the same single object.
    response = _deliver(stack, endpoint, fetcher, body)
    assert response == {"batchItemFailures": []}, _tail(fetcher["log"])
    _queue_is_empty(stack, endpoint)
    assert _keys(endpoint, bucket, f"{prefix}/tenant_id=") == [key]
    assert client("s3", endpoint).get_object(Bucket=bucket, Key=key)["Body"].read() == stored
    assert len(_blob_requests(sim, msg["content_id"])) == 1


def test_forged_content_uri_gets_no_connection(stack: dict[str, Any], endpoint: str, fetcher: dict[str, Any],
                                               blob: dict[str, Any]) -> None:
    out = stack["outputs"]
    bucket, prefix = out["BucketName"], out["Prefix"]
    data_before = _keys(endpoint, bucket, f"{prefix}/tenant_id=")
    errors_before = set(_keys(endpoint, bucket, f"{prefix}/_errors/"))

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    accepted: list[Any] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, peer = listener.accept()
            except OSError:
                continue
            accepted.append(peer)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        msg = _message(blob["entry"])
        msg["content_id"] = f"forged{uuid.uuid4().hex}"
        msg["content_uri"] = f"http://127.0.0.1:{port}/api/v1.0/{TENANT}/activity/feed/audit/{msg['content_id']}"
        response = _deliver(stack, endpoint, fetcher, json.dumps(msg))
        # probe the listener works, so that "no connection" above means something
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT):
            pass
        deadline = time.monotonic() + WAIT
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=WAIT)
        listener.close()
    assert len(accepted) == 1, f"the fetcher connected to the forged content_uri: {accepted}"
    assert response == {"batchItemFailures": []}, _tail(fetcher["log"])
    _queue_is_empty(stack, endpoint)

    new_errors = sorted(set(_keys(endpoint, bucket, f"{prefix}/_errors/")) - errors_before)
    assert len(new_errors) == 1, new_errors
    assert new_errors[0].endswith(f"/{msg['content_id']}.json"), new_errors
    report = client("s3", endpoint).get_object(Bucket=bucket, Key=new_errors[0])["Body"].read().decode()
    assert msg["content_id"] in report
    assert CLIENT_SECRET not in report
    assert _keys(endpoint, bucket, f"{prefix}/tenant_id=") == data_before


def test_fetcher_sends_the_stacks_publisher_id(stack: dict[str, Any], endpoint: str, fetcher: dict[str, Any],
                                               blob: dict[str, Any], sim: Sim) -> None:
    assert fetcher["template_env"]["PUBLISHER_ID"] == STACK_PUBLISHER
    msg = _message(blob["entry"])
    if not _blob_requests(sim, msg["content_id"]):
        _deliver(stack, endpoint, fetcher, json.dumps(msg))
    downloads = _blob_requests(sim, msg["content_id"])
    assert downloads and {r["publisher_identifier"] for r in downloads} == {STACK_PUBLISHER}, downloads


# ------------------------------------------------------------------------------------ queue age

_COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def _alarm_state(alarm: dict[str, Any], oldest_sent_ms: Optional[int], at_ms: int) -> str:
    """What CloudWatch decides for the deployed single-period `alarm` on SQS's
    ApproximateAgeOfOldestMessage at `at_ms`: the period's Maximum is the oldest message's age at
    the period's end, and an empty queue reports no datapoint (then TreatMissingData decides)."""
    assert alarm["Statistic"] == "Maximum" and alarm["EvaluationPeriods"] == 1, alarm
    if oldest_sent_ms is None:
        return "ALARM" if alarm.get("TreatMissingData") == "breaching" else "OK"
    age_seconds = (at_ms - oldest_sent_ms) / 1000
    return "ALARM" if _COMPARE[alarm["ComparisonOperator"]](age_seconds, alarm["Threshold"]) else "OK"


def _oldest_sent_ms(endpoint: str, url: str) -> tuple[Optional[int], list[str]]:
    """The oldest `SentTimestamp` of the messages waiting in the queue (peeked: they stay visible),
    and their receipt handles."""
    got = client("sqs", endpoint).receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                                  AttributeNames=["SentTimestamp"]).get("Messages", [])
    sent = [int(m["Attributes"]["SentTimestamp"]) for m in got]
    return (min(sent) if sent else None), [m["ReceiptHandle"] for m in got]


def test_disabled_fetcher_lets_the_queue_age_alarm_fire(stack: dict[str, Any], endpoint: str,
                                                         blob: dict[str, Any]) -> None:
    """The fetcher's event source is disabled for longer than the queue-age threshold: the alarm
    fires. moto emits no SQS metrics, so this computes the datapoint AWS would report from the
    deployed queue (oldest SentTimestamp) and evaluates the alarm moto holds for the stack."""
    sqs, url = client("sqs", endpoint), stack["outputs"]["QueueUrl"]
    queue_arn = stack["outputs"]["QueueArn"]
    lam = client("lambda", endpoint)
    mappings = [m for m in lam.list_event_source_mappings()["EventSourceMappings"]
                if m["EventSourceArn"] == queue_arn]
    assert len(mappings) == 1, mappings
    lam.update_event_source_mapping(UUID=mappings[0]["UUID"], Enabled=False)

    # moto keeps no CloudWatch alarm for a stack: the alarm is the deployed template's, its
    # references resolved against the stack.
    props = stack["template"]["Resources"]["QueueAgeAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}]
    queue = next(r for r in stack["resources"] if r["LogicalResourceId"] == "Queue")
    assert queue["PhysicalResourceId"].rsplit("/", 1)[-1] == url.rsplit("/", 1)[-1]
    assert props["Threshold"] == {"Ref": "QueueAgeAlarmThresholdSeconds"}
    param = stack["params"].get("QueueAgeAlarmThresholdSeconds",
                                stack["template"]["Parameters"]["QueueAgeAlarmThresholdSeconds"]["Default"])
    alarm = {**props, "Threshold": float(param)}
    threshold, period = alarm["Threshold"], int(alarm["Period"])
    assert threshold == 21600  # QueueAgeAlarmThresholdSeconds' default

    # The lister enqueues a listed blob; nothing receives it.
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(_message(blob["entry"])))
    oldest, handles = _oldest_sent_ms(endpoint, url)
    assert oldest is not None and handles
    now_ms = int(time.time() * 1000)
    assert _alarm_state(alarm, oldest, now_ms) == "OK"
    assert _alarm_state(alarm, oldest, oldest + int(threshold) * 1000) == "OK"
    # Still disabled one period past the threshold: the message is that old, the alarm fires.
    assert _alarm_state(alarm, oldest, oldest + int(threshold + period) * 1000) == "ALARM"

    # Re-enabled, the fetcher takes the message: the queue reports no age, the alarm clears.
    lam.update_event_source_mapping(UUID=mappings[0]["UUID"], Enabled=True)
    for handle in handles:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    _queue_is_empty(stack, endpoint)
    assert _alarm_state(alarm, _oldest_sent_ms(endpoint, url)[0], oldest + int(threshold + period) * 1000) == "OK"
