"""Every default source, served in its real layout on 127.0.0.1 under its real path: the
download stages run with default params but the host, and give the same raw data as the
mirror; a transfer cut halfway without Content-Length never passes, for each kind of check
(checksum, content fingerprint, structure)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import yaml
from dvc_project import REPO, environment
from fakes.file_server import FileServer, running
from fakes.ucr_archive import write_archive
from fakes.yale_database import zip_of

from pipeline.cli import run_stage
from pipeline.core.errors import DownloadError
from pipeline.experiments.ecg5000.layout import UCR_TEST, UCR_TRAIN

pytestmark = pytest.mark.real_data
DEFAULTS = yaml.safe_load((REPO / "params.yaml").read_text())
SOURCES = {  # experiment: its default source's param
    "mnist": "url",
    "ecg5000": "ucr_url",
    "yalefaces": "url",
}


@pytest.fixture(scope="module")
def server(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[FileServer]:
    """The default sources' files at their URLs' paths: MNIST's npz (the arrays of the
    official file, in the shared copy's container), ECG5000's archive zip and the Yale zip,
    both built from the shared copies in the originals' layouts."""
    root = tmp_path_factory.mktemp("internet")
    with running(root) as httpd:
        files = {
            "mnist": lambda path: shutil.copyfile(shared_datasets / "mnist" / "mnist.npz", path),
            "ecg5000": lambda path: write_archive(path, shared_datasets / "ecg5000" / UCR_TRAIN,
                                                  shared_datasets / "ecg5000" / UCR_TEST),
            "yalefaces": lambda path: zip_of(shared_datasets / "yalefaces", path),
        }
        for experiment, param in SOURCES.items():
            target = root / urlparse(DEFAULTS[experiment]["download"][param]).path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            files[experiment](target)
        yield httpd


def local(url: str, server: FileServer) -> str:
    """``url`` with its host replaced by the local server's."""
    return server.url(urlparse(url).path.lstrip("/"))


def params_for(root: Path, server: FileServer) -> Path:
    """The repository's params.yaml, every default source's host replaced."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for experiment, param in SOURCES.items():
        section = params[experiment]["download"]
        section[param] = local(section[param], server)
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def raw_files(root: Path, experiment: str) -> dict[str, bytes]:
    raw = root / "data" / "raw" / experiment
    return {path.name: path.read_bytes() for path in sorted(raw.iterdir())}


@pytest.mark.slow
@pytest.mark.parametrize("experiment", SOURCES)
def test_the_default_source_downloads_and_equals_the_mirror(
        experiment: str, server: FileServer, tmp_path: Path, shared_datasets: Path,
        monkeypatch: pytest.MonkeyPatch, tracking_uri: str) -> None:
    monkeypatch.delenv("PIPELINE_MIRROR", raising=False)
    from_network = tmp_path / "network"
    from_network.mkdir()
    run_stage("download", experiment, params_file=params_for(from_network, server),
              root=from_network)
    path = urlparse(DEFAULTS[experiment]["download"][SOURCES[experiment]]).path.lstrip("/")
    assert (path, None) in server.requests

    monkeypatch.setenv("PIPELINE_MIRROR", str(shared_datasets))
    from_mirror = tmp_path / "mirror"
    from_mirror.mkdir()
    run_stage("download", experiment, params_file=REPO / "params.yaml", root=from_mirror)
    # the same bytes whichever way they came: dvc.lock does not depend on the route
    assert raw_files(from_network, experiment) == raw_files(from_mirror, experiment)


@pytest.mark.parametrize("experiment", SOURCES)
def test_a_transfer_cut_without_content_length_is_refused(
        experiment: str, server: FileServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, tracking_uri: str) -> None:
    """MNIST is checked by checksum (and by its arrays), ECG5000's and Yale's zips by their
    content: half a file passes neither."""
    monkeypatch.delenv("PIPELINE_MIRROR", raising=False)
    path = urlparse(DEFAULTS[experiment]["download"][SOURCES[experiment]]).path.lstrip("/")
    size = (server.root / path).stat().st_size
    server.no_length.add(path)
    server.cut_after[path] = size // 2
    try:
        with pytest.raises(DownloadError) as caught:
            run_stage("download", experiment, params_file=params_for(tmp_path, server),
                      root=tmp_path)
    finally:
        server.no_length.discard(path)
        server.cut_after.pop(path, None)
    message = str(caught.value)
    assert local(DEFAULTS[experiment]["download"][SOURCES[experiment]], server) in message
    assert "the download was deleted" in message
    assert not (tmp_path / "data" / "raw" / experiment).exists()


def test_a_csv_cut_without_content_length_is_refused_by_its_structure(
        server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        tracking_uri: str) -> None:
    """The tutorial's ecg.csv has no published checksum: a complete one has 4998 whole rows."""
    monkeypatch.delenv("PIPELINE_MIRROR", raising=False)
    rows = "".join(",".join(["0.5"] * 140 + ["1.0"]) + "\n" for _ in range(4998))
    url = server.add("data/ecg.csv", rows.encode())
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ecg5000"]["download"].update(layout="csv", csv_source=url)
    params["ecg5000"]["preprocess"]["binary_training_labels"] = "normal_abnormal"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    server.no_length.add("data/ecg.csv")
    server.cut_after["data/ecg.csv"] = len(rows) // 2
    with pytest.raises(DownloadError, match="the content check failed"):
        run_stage("download", "ecg5000", params_file=tmp_path / "params.yaml", root=tmp_path)
    # the whole file passes
    assert run_stage("download", "ecg5000", params_file=tmp_path / "params.yaml",
                     root=tmp_path)["files"] == 1
    assert np.loadtxt(tmp_path / "data/raw/ecg5000/ecg.csv", delimiter=",").shape == (4998, 141)


def read_only_mount_works() -> bool:
    try:
        return subprocess.run(
            ["unshare", "--mount", "sh", "-c", "mount --bind / /mnt && mount -o "
             "remount,bind,ro /mnt"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.slow
def test_a_read_only_mirror_is_read_where_it_is(server: FileServer, shared_datasets: Path,
                                                tmp_path: Path) -> None:
    """A mirror on a read-only file system (a team drive, a mounted dataset volume): every
    default download reads it in place (Yale's and ECG5000's zips are checked by unpacking
    them elsewhere), in a mount namespace of the test's own where it is mounted read-only."""
    if not read_only_mount_works():
        pytest.skip("cannot bind-mount a folder read-only here (needs unshare and mount)")
    mirror = tmp_path / "mirror"
    for experiment, param in SOURCES.items():
        name = Path(urlparse(DEFAULTS[experiment]["download"][param]).path).name
        (mirror / experiment).mkdir(parents=True)
        path = urlparse(DEFAULTS[experiment]["download"][param]).path.lstrip("/")
        shutil.copyfile(server.root / path, mirror / experiment / name)
    project = tmp_path / "project"
    shutil.copytree(REPO / "pipeline", project / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (project / "params.yaml").write_text((REPO / "params.yaml").read_text())
    mounted = tmp_path / "read-only"
    mounted.mkdir()
    stages = " && ".join(f"{sys.executable} -m pipeline.experiments.{experiment}.download"
                         for experiment in SOURCES)
    script = (f"mount --bind {mirror} {mounted} && mount -o remount,bind,ro {mounted} && "
              f"touch {mounted}/probe 2>/dev/null && exit 9; {stages}")
    result = subprocess.run(["unshare", "--mount", "sh", "-c", script], cwd=project,
                            env={**environment(), "PIPELINE_MIRROR": str(mounted)},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 9, "the mirror was writable: the test checks nothing"
    assert result.returncode == 0, result.stderr[-3000:]
    for experiment in SOURCES:
        assert (project / "metrics" / experiment / "download.json").exists()
    assert sorted(p.relative_to(mirror).as_posix() for p in mirror.rglob("*")) == sorted(
        [*SOURCES, *(f"{e}/{Path(urlparse(DEFAULTS[e]['download'][p]).path).name}"
                     for e, p in SOURCES.items())])  # nothing was left beside the files
