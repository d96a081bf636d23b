"""params.yaml validation: every mistake stops the stage and names the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import ParamsError
from pipeline.core.params import load_experiment_params, load_shared_params
from pipeline.experiments.mnist.params import Params as MnistParams

REPO = Path(__file__).resolve().parents[1]


def write_params(tmp_path: Path, edit) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_repository_params_are_valid() -> None:
    shared = load_shared_params(REPO / "params.yaml")
    assert shared.seed == 42 and shared.data.synthetic is False
    params = load_experiment_params(REPO / "params.yaml", "mnist", MnistParams)
    assert params.train.epochs >= 1


def test_unknown_key_is_named_with_the_allowed_keys(tmp_path: Path) -> None:
    path = write_params(tmp_path, lambda p: p["mnist"]["train"].update(epochz=3))
    with pytest.raises(ParamsError) as error:
        load_experiment_params(path, "mnist", MnistParams)
    message = str(error.value)
    assert "mnist.train.epochz: unknown key" in message
    assert "epochs" in message  # the allowed keys are listed


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    path = write_params(tmp_path, lambda p: p["mnist"]["train"].update(batch_size="big"))
    with pytest.raises(ParamsError, match=r"mnist\.train\.batch_size: .*integer.*'big'"):
        load_experiment_params(path, "mnist", MnistParams)


def test_out_of_range_value_is_refused(tmp_path: Path) -> None:
    path = write_params(
        tmp_path, lambda p: p["mnist"]["preprocess"].update(validation_fraction=0.9)
    )
    with pytest.raises(ParamsError, match=r"mnist\.preprocess\.validation_fraction: .*less than"):
        load_experiment_params(path, "mnist", MnistParams)


def test_bad_search_space_range_is_refused(tmp_path: Path) -> None:
    space = {"learning_rate": {"min": 0.0, "max": 0.1, "sampling": "log"}}
    path = write_params(tmp_path, lambda p: p["mnist"]["tune"]["search_space"].update(space))
    with pytest.raises(ParamsError, match=r"mnist\.tune\.search_space\.learning_rate"):
        load_experiment_params(path, "mnist", MnistParams)


def test_shared_section_errors(tmp_path: Path) -> None:
    path = write_params(tmp_path, lambda p: p.update(seed=-1))
    with pytest.raises(ParamsError, match=r"seed: .*greater than or equal to 0"):
        load_shared_params(path)
    path = write_params(tmp_path, lambda p: p["data"].update(synthetic="maybe"))
    with pytest.raises(ParamsError, match=r"data\.synthetic"):
        load_shared_params(path)


def test_unknown_preset_lists_the_presets(tmp_path: Path) -> None:
    path = write_params(tmp_path, lambda p: p["mnist"].update(preset="report_z"))
    with pytest.raises(ParamsError, match=r"mnist\.preset: unknown preset 'report_z'.*report_d"):
        load_experiment_params(path, "mnist", MnistParams)


def test_preset_is_merged_over_the_base_section(tmp_path: Path) -> None:
    path = write_params(tmp_path, lambda p: p["mnist"].update(preset="report_d_fixed_cnn"))
    params = load_experiment_params(path, "mnist", MnistParams)
    assert params.train.epochs == 15 and params.train.batch_size == 64
    assert params.train.augmentation is None
    assert params.tune.search_space["filters_2"] == 64
    assert params.preprocess.validation_fraction == 0.1  # untouched by the preset


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="file not found"):
        load_shared_params(tmp_path / "nope.yaml")
    broken = tmp_path / "params.yaml"
    broken.write_text("seed: [1,\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_shared_params(broken)


@pytest.mark.parametrize("key", ["seeed", "mnsit"])
def test_an_unknown_top_level_key_is_named(tmp_path: Path, key: str) -> None:
    """A typo of a shared key or of an experiment's section would otherwise be ignored."""
    path = write_params(tmp_path, lambda p: p.update({key: 1}))
    expected = rf"{key}: unknown top-level key \(allowed: .*mnist.*seed"
    with pytest.raises(ParamsError, match=expected):
        load_shared_params(path)


@pytest.mark.parametrize(("edit", "key"), [
    (lambda p: p["mnist"]["train"]["augmentation"].update(rotatoin=0.1),
     "mnist.train.augmentation.rotatoin"),
    (lambda p: p["mnist"]["tune"]["objective"].update(mode="max"), "mnist.tune.objective.mode"),
    (lambda p: p["data"].update(mirror="/somewhere"), "data.mirror"),
], ids=["third-level", "objective", "shared-section"])
def test_unknown_keys_are_refused_at_every_level(tmp_path: Path, edit, key: str) -> None:
    path = write_params(tmp_path, edit)
    with pytest.raises(ParamsError, match=rf"{key}: unknown key"):
        load_shared_params(path)
        load_experiment_params(path, "mnist", MnistParams)


@pytest.mark.parametrize("missing", ["train", "train.augmentation", "tune.max_epochs"])
def test_a_missing_section_or_key_is_an_error_not_a_code_default(tmp_path: Path,
                                                                 missing: str) -> None:
    """params.yaml is the one source of defaults: a section or key left out is named, never
    filled in by a value in code that could differ from the documented one."""
    *parents, key = missing.split(".")

    def remove(params: dict) -> None:
        node = params["mnist"]
        for part in parents:
            node = node[part]
        del node[key]

    path = write_params(tmp_path, remove)
    with pytest.raises(ParamsError, match=rf"mnist\.{missing}: missing key"):
        load_experiment_params(path, "mnist", MnistParams)
