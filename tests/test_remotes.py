"""Sharing through DVC remotes: `dvc push`, then a fresh clone `dvc pull`s and its `dvc repro`
reuses the pulled outputs, downloading and training nothing. Two remote kinds: a directory,
and an S3-compatible server (moto) started on 127.0.0.1."""

from __future__ import annotations

import filecmp
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dvc_project import environment, free_port, ran_stages, run

pytestmark = pytest.mark.slow

S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "team-pipeline"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with an empty bucket."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def remote_settings(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL, the `dvc remote modify` options and the environment of a remote kind."""
    if kind == "directory":
        return str(tmp_path / "remote"), {}, environment()
    endpoint = request.getfixturevalue("s3_endpoint")
    return f"s3://{BUCKET}/store", {"endpointurl": endpoint}, environment(**S3_CREDENTIALS)


def add_remote(root: Path, name: str, url: str, options: dict[str, str],
               env: dict[str, str], *, local: bool) -> None:
    """``local``: in the checkout's own config; otherwise the repository's default remote."""
    where = ["--local"] if local else []
    run(["dvc", "remote", "add", *(where or ["--default"]), name, url], root, env)
    for option, value in options.items():
        run(["dvc", "remote", "modify", *where, name, option, value], root, env)


@pytest.mark.parametrize("kind", ["directory", "s3"])
def test_push_then_a_fresh_clone_pulls_and_reproduces_nothing(
    kind: str, repro_project: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url, options, env = remote_settings(kind, tmp_path, request)
    name = f"team-{kind}"
    # --local: the shared project's committed config stays as it is for the other tests
    add_remote(repro_project, name, url, options, env, local=True)
    started = time.perf_counter()
    run(["dvc", "push", "--remote", name], repro_project, env)
    pushed = time.perf_counter()

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repro_project), str(clone)], tmp_path, env)
    add_remote(clone, name, url, options, env, local=False)
    cloned = time.perf_counter()
    run(["dvc", "pull"], clone, env)
    pulled = time.perf_counter()
    output = run(["dvc", "repro"], clone, env)
    reproduced = time.perf_counter()
    print(f"{kind} remote: push {pushed - started:.1f} s, pull {pulled - cloned:.1f} s, "
          f"no-op repro {reproduced - pulled:.1f} s")

    assert ran_stages(output) == set()
    assert "Data and pipelines are up to date." in output
    assert run(["dvc", "status"], clone, env).strip().endswith("Data and pipelines are up to date.")
    for output_file in ("data/raw/mnist/x_train.npy", "data/models/mnist/model.keras",
                        "reports/report.html"):
        assert filecmp.cmp(clone / output_file, repro_project / output_file, shallow=False)
    assert not (clone / "mlflow.db").exists()  # no stage ran: nothing was downloaded or trained
