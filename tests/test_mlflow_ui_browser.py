"""The real MLflow UI in a real browser: `mlflow server` on 127.0.0.1 over the store of two
queued pipeline runs, opened in headless Chromium (Debian's `chromium` and `chromium-driver`
packages, as .ci/run installs them); then the HTML report in the same browser."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
from dvc_project import QUEUED, QueueRun, free_port
from mlflow import MlflowClient

from pipeline.tracking import models, runs
from pipeline.tracking.store import EXPERIMENT

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def mlflow_ui(
    repro_project: Path, queued_experiments: QueueRun, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`mlflow server` over the store of ``repro_project``; it keeps the artifacts of
    experiments created through it in its own folder."""
    tmp_path = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (tmp_path / "mlflow-server.log").open("w")
    server = subprocess.Popen(
        [Path(sys.executable).parent / "mlflow", "server", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{repro_project / 'mlflow.db'}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = (tmp_path / "mlflow-server.log").read_text()[-3000:]
                    pytest.fail(f"mlflow server did not start:\n{output}")
                time.sleep(1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn worker
        server.wait(timeout=60)
        log.close()


@pytest.fixture
def browser() -> Iterator:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install ...)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--window-size=1800,1100"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def page_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def wait_for(driver, condition, seconds: float = 90):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(lambda _: condition())


def shown_run_ids(driver) -> set[str]:
    """The runs whose name links the runs table shows."""
    from selenium.webdriver.common.by import By

    links = driver.find_elements(By.CSS_SELECTOR, "a[href*='/runs/']")
    return {link.get_attribute("href").rstrip("/").rsplit("/", 1)[-1] for link in links}


def test_mlflow_ui_shows_both_runs_metrics_and_children_then_the_report(
    mlflow_ui: str, browser, repro_project: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    client = MlflowClient(f"sqlite:///{repro_project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    parents = {run.data.tags["dvc_exp_name"]: run for run in runs
               if "dvc_exp_name" in run.data.tags and "mlflow.parentRunId" not in run.data.tags}
    children = {name: {run.info.run_id for run in runs
                       if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
                for name, parent in parents.items()}
    assert set(parents) == set(QUEUED) and all(len(ids) == 3 for ids in children.values())

    browser.get(f"{mlflow_ui}/#/experiments/{experiment.experiment_id}/runs")
    wait_for(browser, lambda: all(p.info.run_name in page_text(browser) for p in parents.values()))
    shown = shown_run_ids(browser)
    assert {parent.info.run_id for parent in parents.values()} <= shown
    assert not any(ids & shown for ids in children.values()), "children shown before expanding"
    expanded: set[str] = set()
    for name, parent in parents.items():
        # the expander beside a parent run's name shows exactly its stage runs
        browser.find_element(By.XPATH, f"//a[contains(., '{parent.info.run_name}')]"
                                       "/ancestor::div[@role='gridcell']//button").click()
        expanded |= children[name]
        wait_for(browser, lambda wanted=frozenset(expanded): wanted <= shown_run_ids(browser))
        others = set().union(*children.values()) - expanded
        assert not others & shown_run_ids(browser)
    assert page_text(browser).count("train@mnist") == 2
    screenshot = tmp_path / "mlflow_ui.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    print(f"MLflow UI screenshot: {screenshot}")

    for parent in parents.values():
        # the run page lists the parent's metrics: the stages' final metrics, gathered
        browser.get(f"{mlflow_ui}/#/experiments/{experiment.experiment_id}/runs/"
                    f"{parent.info.run_id}")
        wait_for(browser, lambda: "mnist.evaluate.accuracy" in page_text(browser))
        lines = page_text(browser).splitlines()
        for key in ("mnist.evaluate.accuracy", "mnist.train.best_val_loss"):
            shown_value = float(lines[lines.index(key) + 1])
            assert shown_value == pytest.approx(parent.data.metrics[key])

    browser.get((repro_project / "reports" / "report.html").as_uri())
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
    )
    assert len(images) >= 5 and all(loaded for _, loaded in images), images


def test_stages_log_and_register_through_mlflow_server(
    mlflow_ui: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The setup the README recommends for many parallel workers: MLFLOW_TRACKING_URI names
    the server; parent and child runs, artifacts and the registry all go through it."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_ui)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "through-server")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    inputs = np.arange(6, dtype="float32").reshape(2, 3)
    with runs.stage_run("mnist", "train", uri=mlflow_ui, root=tmp_path, shared={"seed": 42},
                        synthetic=False, code_version="0"):
        runs.log_numeric_metrics({"val_loss": 0.25})
        version = models.register_model(model, "server_check", metric="val_loss", value=0.25,
                                         direction="min", example_input=inputs,
                                         synthetic=False)
    client = MlflowClient(mlflow_ui)
    found = client.search_runs([client.get_experiment_by_name("through-server").experiment_id])
    (parent,) = [run for run in found if "mlflow.parentRunId" not in run.data.tags]
    (child,) = [run for run in found if run != parent]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.metrics["mnist.train.val_loss"] == 0.25
    assert client.get_model_version_by_alias("server_check", "champion").version == version.version
    # the champion loads through MLflow's own Keras flavor, via the server
    served = mlflow.pyfunc.load_model("models:/server_check@champion")
    assert np.allclose(served.predict(inputs), model.predict(inputs, verbose=0), atol=1e-6)
