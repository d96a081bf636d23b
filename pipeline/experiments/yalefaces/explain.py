"""explain@yalefaces: eigenfaces of PCA, Sanger's and Oja's rules side by side, faces rebuilt
from the leading Sanger components, the variance they explain, and the saliency of the
deployable network's logit, through its components, on a few faces."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from keras import layers, ops
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.yalefaces.bases import BASES_FILE, load_bases
from pipeline.experiments.yalefaces.figures import line_plot
from pipeline.experiments.yalefaces.layout import CLASSES, SUBJECTS
from pipeline.experiments.yalefaces.neural_pca import unit_variances
from pipeline.experiments.yalefaces.params import EXPERIMENT
from pipeline.experiments.yalefaces.processed import ALL_IMAGES, Processed
from pipeline.experiments.yalefaces.trained import OJA_FILE, load_network
from pipeline.ml import attribution, plots
from pipeline.ml.predict import MODEL_FILE

HEADLINE_COMPONENTS = 20  # the headline figures are at this k, when it is reconstructed


def explain(ctx: StageContext) -> StageResult:
    data = Processed.load(ctx.paths.processed)
    params = ctx.params.explain
    height, width = data.shape
    sanger = load_bases(ctx.paths.model / BASES_FILE)[ALL_IMAGES]
    oja = load_bases(ctx.paths.model / OJA_FILE)["oja"]
    features = data.features
    with threadpool_limits(1):
        pca = PCA(sanger.units, svd_solver="full").fit(features)
    reference = pca.components_.T
    shown = min(params.eigenfaces, oja.units, sanger.units)
    eigenfaces = [
        aligned(basis[:, :shown], reference[:, :shown]).T
        for basis in (reference, sanger.basis(), oja.basis())
    ]
    plots.image_gallery(
        ctx.out / "eigenfaces.png",
        [face.reshape(height, width) for faces in eigenfaces for face in faces],
        [f"{label} {index + 1}" for label in ("PCA", "Sanger", "Oja")
         for index in range(shown)],
        columns=shown,
        suptitle="Eigenfaces: PCA, the generalized Hebbian algorithm, Oja's subspace rule "
                 "(Oja's units span the subspace in any rotation)")
    faces = example_faces(data.table, params.faces)
    mean = ops.convert_to_numpy(sanger.mean)
    ks = [k for k in params.reconstruction_components if k <= sanger.units]
    basis = sanger.basis()
    rebuilt, titles = [], []
    for image in faces:
        rebuilt.append(features[image].reshape(height, width))
        titles.append(data.table.loc[image, "image"])
        for k in ks:
            projected = (features[image] - mean) @ basis[:, :k] @ basis[:, :k].T + mean
            rebuilt.append(projected.reshape(height, width))
            titles.append(f"{k} components")
    plots.image_gallery(ctx.out / "reconstructions.png", rebuilt, titles,
                        columns=len(ks) + 1,
                        suptitle="Faces rebuilt from the leading Sanger components")
    centred = features - mean
    errors = {f"reconstruction_mse_{k}": float(
        ((centred - centred @ basis[:, :k] @ basis[:, :k].T) ** 2).mean()) for k in ks}
    variances = unit_variances(features, mean, reference)
    cumulative = {
        "PCA": np.cumsum(variances) / (centred**2).sum(axis=1).mean(),
        "Sanger": np.cumsum(unit_variances(features, mean, basis))
        / (centred**2).sum(axis=1).mean(),
    }
    line_plot(ctx.out / "explained_variance.png", np.arange(1, sanger.units + 1),
              cumulative, "components k", "share of the variance explained",
              "Explained variance vs number of components")
    model = load_network(ctx.paths.model / MODEL_FILE)
    logits = keras.Model(model.inputs, layers.Reshape((len(CLASSES),))(model.outputs[0]))
    predicted = logits.predict(features[faces], verbose=0).argmax(axis=1)
    maps = attribution.saliency(logits, features[faces], predicted)
    plots.image_gallery(
        ctx.out / "saliency.png",
        [features[image].reshape(height, width) for image in faces],
        [f"{data.table.loc[image, 'image']}→{CLASSES[p]}"
         for image, p in zip(faces, predicted, strict=True)],
        overlays=maps.reshape(-1, height, width),
        columns=min(len(faces), 6),
        suptitle="|d logit / d pixel| of the deployable network, through its components")
    figures = {
        "eigenfaces_shown": shown,
        "faces_explained": len(faces),
        **errors,
        **{f"explained_variance_{name.lower()}_{k}": float(values[k - 1])
           for name, values in cumulative.items() for k in ks},
    }
    headline = {f"reconstruction_mse_{HEADLINE_COMPONENTS}",
                f"explained_variance_sanger_{HEADLINE_COMPONENTS}"}
    return StageResult({key: value for key, value in figures.items() if key in headline},
                       {key: value for key, value in figures.items() if key not in headline})


def aligned(basis: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``basis`` with each column's sign flipped to agree with ``reference``'s (display)."""
    signs = np.sign(np.sum(basis * reference, axis=0))
    return basis * np.where(signs == 0, 1, signs)


def example_faces(table: pd.DataFrame, count: int) -> list[int]:
    """``count`` images of different subjects, cycling through telling conditions."""
    conditions = ["normal", "leftlight", "rightlight", "glasses", "happy", "surprised"]
    faces = []
    for index in range(count):
        subject = index % SUBJECTS + 1
        condition = conditions[index % len(conditions)]
        row = table[(table["subject"] == subject) & (table["condition"] == condition)]
        faces.append(int(row.index[0]))
    return faces


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
