"""A shared MLflow tracking server backed by PostgreSQL, for several processes logging at
once (``dvc queue start -j 4``, a distributed search, a team): SQLite takes one writer at a
time and fails under load with "database is locked".

    python -m pipeline.tracking.server --folder .mlflow-server      # then, in another shell:
    export MLFLOW_TRACKING_URI=http://127.0.0.1:5000 && dvc queue start -j 4

Without ``--backend-store-uri`` a PostgreSQL cluster of its own is created in
``<folder>/postgres`` (Debian's ``postgresql`` package provides the programs), listening on
127.0.0.1 only, trusting local connections; artifacts go to ``<folder>/artifacts`` and are
served by the tracking server. For a team, point ``--backend-store-uri`` at a managed
PostgreSQL (``postgresql+psycopg2://user:password@host:5432/mlflow``) and serve on
``--host 0.0.0.0``.
Ctrl-C stops the server and the cluster it started.
"""

from __future__ import annotations

import argparse
import getpass
import glob
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

DATABASE = "mlflow"
SYSTEM_USER = "postgres"  # who runs PostgreSQL when we are root: it refuses to run as root


class ServerError(RuntimeError):
    """PostgreSQL or the tracking server could not be started; the message says why."""


def postgres_program(name: str) -> str:
    """A PostgreSQL program (``initdb``, ``pg_ctl``): on PATH, else where Debian keeps it."""
    found = shutil.which(name) or next(iter(sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise ServerError(f"PostgreSQL's {name} was not found: install PostgreSQL "
                          "(Debian: apt-get install postgresql)")
    return found


def _as_cluster_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise ServerError("running as root, and runuser is missing to start PostgreSQL as "
                          f"the {SYSTEM_USER!r} user")
    return ["runuser", "-u", SYSTEM_USER, "--", *command]


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServerError(f"{what} failed ({' '.join(command)}):\n"
                          f"{(result.stderr or result.stdout).strip()}")


@contextmanager
def postgres_cluster(folder: Path, port: int) -> Iterator[str]:
    """A PostgreSQL cluster in ``folder`` (created on first use) serving 127.0.0.1:``port``
    while the block runs; yields the URI of its ``mlflow`` database."""
    folder = folder.resolve()
    user = SYSTEM_USER if os.geteuid() == 0 else getpass.getuser()
    if not (folder / "PG_VERSION").exists():
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, SYSTEM_USER, SYSTEM_USER)
        _run(_as_cluster_owner([postgres_program("initdb"), "-D", str(folder), "-U", user,
                                "--auth=trust", "--encoding=UTF8"]), "initdb")
    log = folder / "server.log"
    _run(_as_cluster_owner([
        postgres_program("pg_ctl"), "-D", str(folder), "-l", str(log), "-w", "-t", "60",
        "-o", f"-h 127.0.0.1 -p {port} -k {folder}", "start"]),
        f"starting PostgreSQL on port {port} (its log: {log})")
    try:
        exists = subprocess.run(
            _as_cluster_owner([postgres_program("psql"), "-h", "127.0.0.1", "-p", str(port),
                               "-U", user, "-d", "postgres", "-tAc",
                               f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"]),
            capture_output=True, text=True).stdout.strip()
        if exists != "1":
            _run(_as_cluster_owner([postgres_program("createdb"), "-h", "127.0.0.1", "-p",
                                    str(port), "-U", user, DATABASE]), "createdb")
        yield f"postgresql+psycopg2://{user}@127.0.0.1:{port}/{DATABASE}"
    finally:
        subprocess.run(_as_cluster_owner([postgres_program("pg_ctl"), "-D", str(folder),
                                          "-m", "fast", "-w", "stop"]), capture_output=True)


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path | None,
                       timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text().splitlines()[-10:]) if log else ""
            raise ServerError(f"the tracking server exited with code {process.returncode}"
                              + (f"; the end of {log}:\n{tail}" if log else ""))
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise ServerError(f"the tracking server at {url} did not answer within {timeout:.0f} s")


@contextmanager
def tracking_server(backend_store_uri: str, artifacts: Path, *, host: str = "127.0.0.1",
                    port: int = 5000, workers: int = 4, log: Path | None = None
                    ) -> Iterator[str]:
    """``mlflow server`` on ``backend_store_uri`` (artifacts served from ``artifacts``) while
    the block runs; yields its URL, once it answers."""
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
               backend_store_uri, "--artifacts-destination", str(artifacts.resolve()),
               "--host", host, "--port", str(port), "--workers", str(workers)]
    stream = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
    try:
        wait_until_healthy(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            stream.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tracking.server",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=Path(".mlflow-server"),
                        help="the PostgreSQL cluster, artifacts and logs")
    parser.add_argument("--backend-store-uri", help="an existing PostgreSQL database "
                        "(default: a cluster of its own in <folder>/postgres)")
    parser.add_argument("--postgres-port", type=int, default=5433)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4, help="server processes")
    args = parser.parse_args(argv)
    try:
        with _backend(args) as backend, tracking_server(
                backend, args.folder / "artifacts", host=args.host, port=args.port,
                workers=args.workers, log=args.folder / "mlflow-server.log") as url:
            print(f"MLflow tracking server on {backend.split('@')[-1]} at {url}\n"
                  f"    export MLFLOW_TRACKING_URI={url}\n(Ctrl-C stops it)", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    except ServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


@contextmanager
def _backend(args: argparse.Namespace) -> Iterator[str]:
    if args.backend_store_uri:
        yield args.backend_store_uri
        return
    args.folder.mkdir(parents=True, exist_ok=True)
    with postgres_cluster(args.folder / "postgres", args.postgres_port) as uri:
        yield uri


if __name__ == "__main__":
    raise SystemExit(main())
