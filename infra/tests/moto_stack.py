"""Deploys infra/template.yaml, translated from SAM, to a moto server: shared by the infra tests.

`moto_endpoint()` gives the moto server at $MOTO_ENDPOINT, or starts one on 127.0.0.1;
`deploy()` uploads the function zips, translates the template and creates the stack.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import boto3

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

import sam_translate  # noqa: E402

REGION = "us-east-1"

BINARIES = {"ListerFunction": "o365-lister", "FetcherFunction": "o365-fetcher", "AuditorFunction": "o365-auditor", "CompactorFunction": "o365-compactor"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """$MOTO_ENDPOINT when set, else a moto server of our own on 127.0.0.1, stopped afterwards."""
    url = os.environ.get("MOTO_ENDPOINT")
    if url:
        yield url
        return
    port = free_port()
    server = Path(sys.executable).parent / "moto_server"
    if not server.is_file():
        server = REPO / ".venv" / "bin" / "moto_server"
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on port {port}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def target_dir() -> Path:
    """Where cargo puts its builds: $CARGO_TARGET_DIR, else the workspace's `target/`."""
    return Path(os.environ["CARGO_TARGET_DIR"]) if os.environ.get("CARGO_TARGET_DIR") else REPO / "target"


def built_binary(binary: str) -> Optional[Path]:
    """The debug build of `binary`, if there is one."""
    # where cargo builds now first, so that a stale build elsewhere is not picked
    candidates = [target_dir() / "debug" / binary, REPO / "target" / "debug" / binary]
    return next((p for p in candidates if p.is_file()), None)


def function_zip(binary: str, path: Optional[Path] = None) -> tuple[bytes, str]:
    """A Lambda zip holding `bootstrap`: `path`, else the debug build when there is one, else a stub."""
    path = path or built_binary(binary)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        if path is not None:
            zf.writestr(info, path.read_bytes())
            return buf.getvalue(), f"built binary {path}"
        zf.writestr(info, "#!/bin/sh\necho 'stub: moto never runs this' >&2\nexit 1\n")
    return buf.getvalue(), "stub bootstrap (no debug build found; moto never executes it)"


def deploy(
    endpoint: str,
    params: dict[str, str],
    secret_string: str,
    say: Callable[[str], None],
    binaries: Optional[dict[str, Path]] = None,
) -> dict[str, Any]:
    """Creates the tenants secret and the stack; `params` are the stack parameters besides
    `TenantsSecretArn`, `binaries` the builds to deploy per function (default: what
    `function_zip` finds). Returns name, translated template, resources, outputs, params and
    the zips deployed per function."""
    s3 = client("s3", endpoint)
    artifacts = f"o365-artifacts-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=artifacts)
    locations = {}
    zips = {}
    for logical_id, binary in BINARIES.items():
        body, what = function_zip(binary, (binaries or {}).get(logical_id))
        key = f"{binary}.zip"
        s3.put_object(Bucket=artifacts, Key=key, Body=body)
        locations[logical_id] = (artifacts, key)
        zips[logical_id] = body
        say(f"{logical_id} code: {what}")

    secret_arn = client("secretsmanager", endpoint).create_secret(
        Name=f"o365-collector/tenants-{uuid.uuid4().hex[:8]}", SecretString=secret_string
    )["ARN"]
    params = {"TenantsSecretArn": secret_arn, **params}

    template = sam_translate.translate(
        sam_translate.load_template(REPO / "infra" / "template.yaml"), locations
    )
    name = f"o365-test-{uuid.uuid4().hex[:8]}"
    cfn = client("cloudformation", endpoint)
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    deadline = time.monotonic() + 120
    while True:
        desc = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not desc["StackStatus"].endswith("_IN_PROGRESS"):
            break
        assert time.monotonic() < deadline, f"stack still {desc['StackStatus']}"
        time.sleep(0.5)
    assert desc["StackStatus"] == "CREATE_COMPLETE", desc.get("StackStatusReason")

    resources = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
        resources.extend(page["StackResourceSummaries"])
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
    outputs.update({"Region": REGION, "Endpoint": endpoint, "StackName": name})
    return {"name": name, "template": template, "resources": resources, "outputs": outputs,
            "params": params, "zips": zips}
