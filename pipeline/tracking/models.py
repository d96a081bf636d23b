"""The model registry: every trained model as an MLflow Keras-flavor model, a version of the
registered model named after its experiment, and the ``champion`` alias on the best version.

Logged with MLflow's own Keras flavor, a model loads with no code of ours:
``mlflow.pyfunc.load_model("models:/mnist@champion")`` or ``mlflow models serve -m
models:/mnist@champion`` (models with custom layers need the module defining them imported,
as Keras requires for any custom layer).
"""

from __future__ import annotations

import logging
from typing import Literal

import keras
import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

log = logging.getLogger(__name__)

CHAMPION = "champion"
ALIAS_ATTEMPTS = 10
Direction = Literal["min", "max"]


def register_model(
    model: keras.Model,
    experiment: str,
    *,
    metric: str,
    value: float,
    direction: Direction,
    example_input: np.ndarray,
    synthetic: bool,
) -> ModelVersion:
    """Log ``model`` in the active run (Keras flavor, signature from ``example_input``) and
    register it as a new version of the experiment's model; the alias ``champion`` moves to
    it only if it beats the champion on ``metric`` (a validation metric, better in
    ``direction``). Models trained on synthetic data are ``<experiment>-synthetic``: they never
    compete with real ones."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("register_model needs an active MLflow run (the train stage's)")
    signature = infer_signature(example_input, model.predict(example_input, verbose=0))
    info = mlflow.keras.log_model(model, name="model", signature=signature)
    client = MlflowClient()
    name = f"{experiment}-synthetic" if synthetic else experiment
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(
        name,
        source=info.model_uri,
        run_id=run.info.run_id,
        model_id=info.model_id,
        tags={"validation_metric": metric, "validation_value": repr(float(value)),
              "direction": direction},
    )
    champion = _promote_champion(client, name, metric, direction)
    mlflow.set_tags(
        {"model_version": f"{name}/{version.version}",
         "champion": str(champion == str(version.version)).lower()}
    )
    log.info("registered %s version %s; champion: version %s", name, version.version, champion)
    return version


def _alias_version(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def _promote_champion(client: MlflowClient, name: str, metric: str, direction: Direction) -> str:
    """Point ``champion`` at the version that is best on ``metric`` (the earliest of equals, so
    the alias moves only on a strict improvement) and return it. After moving the alias it
    looks again: a version a parallel run registered meanwhile is compared too. A tracking
    server may refuse a move that races another process's (its set-alias is no atomic upsert
    on PostgreSQL): that is looked at again too, a few times."""
    sign = 1.0 if direction == "max" else -1.0
    refused: MlflowException | None = None
    for _ in range(ALIAS_ATTEMPTS):
        versions = sorted(
            (v for v in client.search_model_versions(f"name='{name}'")
             if v.tags.get("validation_metric") == metric),
            key=lambda v: int(v.version),
        )
        # max keeps the first of equals: the earliest version
        best = max(versions, key=lambda v: sign * float(v.tags["validation_value"]))
        if _alias_version(client, name) == str(best.version):
            return str(best.version)
        try:
            client.set_registered_model_alias(name, CHAMPION, best.version)
        except MlflowException as error:
            log.info("moving %s@%s raced another run (%s); looking again", name, CHAMPION,
                     error.error_code)
            refused = error
    raise RuntimeError(f"{name}@{CHAMPION} did not settle in {ALIAS_ATTEMPTS} attempts"
                       ) from refused
