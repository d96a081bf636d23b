"""evaluate@colourise: the test split, read here and nowhere else. The model's colour images
against the truth (PSNR, SSIM, chroma error in CIE Lab, see :mod:`.scores`), beside two
baselines that ignore the content (:mod:`.baselines`); per class and per image too, and the
examples explain shows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.errors import ParamsError
from pipeline.core.runner import main
from pipeline.experiments.colourise.baselines import gray_copy, mean_chroma, mean_colour
from pipeline.experiments.colourise.colour import rgb_floats, to_lab
from pipeline.experiments.colourise.data import read_split
from pipeline.experiments.colourise.evaluation_files import (
    PER_IMAGE_FILE,
    PREFIXES,
    Examples,
    as_uint8,
    pick,
    save_examples,
)
from pipeline.experiments.colourise.model import colourise
from pipeline.experiments.colourise.params import EXPERIMENT
from pipeline.experiments.colourise.scores import FIGURES, score_images, summary
from pipeline.ml.predict import load_trained_model
from pipeline.ml.split_files import load_split
from pipeline.ml.splits import stratified_subset


def evaluate(ctx: StageContext) -> StageResult:
    params = ctx.params.evaluate
    test = read_split(ctx.paths.raw, ctx.params.download, "test")
    chosen = stratified_subset(test.labels, params.test_images, ctx.seed)
    images, labels = test.images[chosen], test.labels[chosen]
    if params.ssim_window > min(images.shape[1:3]):
        raise ParamsError(f"colourise.evaluate.ssim_window: {params.ssim_window} pixels do "
                          f"not fit the {images.shape[1]}x{images.shape[2]} test images")
    true, lab = rgb_floats(images), to_lab(images)
    colourised = {
        "model": colourise(load_trained_model(ctx.paths.model, compile=False), lab,
                           ctx.params.model.architecture, params.batch_size),
        "gray_copy": gray_copy(lab),
        "mean_colour": mean_colour(lab, mean_chroma(to_lab(
            load_split(ctx.paths.processed, "train")[0]))),
    }
    scores = {method: score_images(true, lab, rgb, params.ssim_window)
              for method, rgb in colourised.items()}
    metrics = {PREFIXES[method] + figure: value for method, found in scores.items()
               for figure, value in summary(found).items()}
    table = per_image_table([test.names[i] for i in chosen],
                            [test.classes[label] for label in labels], scores)
    table.to_csv(ctx.out / PER_IMAGE_FILE, index=False, float_format="%.6g")
    errors = scores["model"]["chroma_error"]
    save_examples(ctx.out, {
        group: Examples(as_uint8(np.stack([colourised["gray_copy"][shown],
                                           colourised["model"][shown], true[shown]], axis=1)),
                        table["name"].iloc[shown].tolist(), table["class"].iloc[shown].tolist(),
                        errors[shown].tolist())
        for group, shown in pick(errors, params.examples, ctx.rng("examples")).items()})
    return StageResult(metrics, {"test_images": len(chosen), "classes": test.classes,
                                 **per_class(scores, labels, len(test.classes))})


def per_class(scores: dict[str, dict[str, np.ndarray]], labels: np.ndarray, classes: int
              ) -> dict[str, list[float] | float]:
    """Each method's figures per class, and the median of its images' PSNR."""
    details: dict[str, list[float] | float] = {}
    for method, found in scores.items():
        rows = [summary({key: value[labels == label] for key, value in found.items()})
                for label in range(classes)]
        for figure in FIGURES:
            details[f"{PREFIXES[method]}{figure}_per_class"] = [row[figure] for row in rows]
        details[f"{PREFIXES[method]}median_image_psnr"] = float(np.median(found["psnr"]))
    return details


def per_image_table(names: list[str], classes: list[str],
                    scores: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """One row per test image: its name, class and every method's figures."""
    table = pd.DataFrame({"name": names, "class": classes})
    for method, found in scores.items():
        for figure in FIGURES:
            table[f"{method}_{figure}"] = found[figure]
    return table


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
