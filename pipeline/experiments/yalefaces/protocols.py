"""The evaluation protocols and the nested selection's sets, all leak-free.

``loo`` holds out each group of identical images in turn (the classic leave-one-image-out over
165 images, 156 folds), ``kfold`` uses a grouped 10-fold split stratified by subject, and
``two_subjects`` is the course report's task (subject01 vs subject02), leave-one-image-out.

The images are partitioned into grouped, subject-stratified *blocks* (the k-fold folds). Every
outer fold lies in one block, and every choice made for it is made on that block's *selection
set*: the protocol's images minus the whole block, so minus the held-out images. Each set has
inner folds of its own (grouped, stratified). The whole nested protocol is repeated with
blocks drawn from other seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipeline.experiments.yalefaces.params import PreprocessParams, Protocol
from pipeline.experiments.yalefaces.processed import ALL_IMAGES
from pipeline.ml.grouped_splits import grouped_stratified_split


def split_protocols(table: pd.DataFrame, params: PreprocessParams, seed: int) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """Every repetition's outer folds, and every selection set with its inner folds.
    Repetition r partitions the images into grouped, subject-stratified blocks with seed + r."""
    folds = []
    for repeat in range(params.repeats):
        blocks = grouped_stratified_split(
            table["subject"].to_numpy(), table["group"].to_numpy(),
            {str(block): 1.0 / params.folds for block in range(params.folds)}, seed + repeat)
        folds.append(protocol_folds(table.assign(block=blocks.astype(int)), params.protocols,
                                    params.two_subjects, repeat))
    folds = pd.concat(folds, ignore_index=True)
    return folds, selection_sets(table, folds, params.inner_folds, seed)


def protocol_folds(
    table: pd.DataFrame, protocols: Sequence[Protocol], two_subjects: tuple[int, int],
    repeat: int,
) -> pd.DataFrame:
    """One row per (protocol, image) of a repetition whose blocks are ``table["block"]``: the
    outer fold that holds the image out, and the selection set every choice for that fold is
    made on (the protocol's images minus the fold's whole block, so minus the held-out
    images)."""
    frames = []
    for protocol in protocols:
        images = table if protocol != "two_subjects" else table[
            table["subject"].isin(two_subjects)]
        family = "two" if protocol == "two_subjects" else "main"
        frames.append(pd.DataFrame({
            "repeat": repeat,
            "protocol": protocol,
            "image": images.index,
            "outer_fold": images["block"] if protocol == "kfold" else images["group"],
            "block": images["block"],
            "selection_set": [f"{family}_{repeat}_{block}" for block in images["block"]],
        }))
    return pd.concat(frames, ignore_index=True)


def selection_sets(
    table: pd.DataFrame, folds: pd.DataFrame, inner_folds: int, seed: int
) -> pd.DataFrame:
    """One row per (selection set, member image) with the image's inner fold: a grouped,
    subject-stratified split of the set. Set ``all`` (every image) selects the deployable
    model."""
    members = {ALL_IMAGES: table.index.to_numpy()}
    for _, rows in folds.groupby(["repeat", "protocol"]):
        for block, name in rows[["block", "selection_set"]].drop_duplicates().itertuples(
                index=False):
            members[name] = rows.loc[rows["block"] != block, "image"].to_numpy()
    frames = []
    for offset, (name, images) in enumerate(sorted(members.items())):
        inner = grouped_stratified_split(
            table.loc[images, "subject"].to_numpy(), table.loc[images, "group"].to_numpy(),
            {str(fold): 1.0 / inner_folds for fold in range(inner_folds)}, seed + offset,
        )
        frames.append(pd.DataFrame({"selection_set": name, "image": images,
                                    "inner_fold": inner.astype(int)}))
    return pd.concat(frames, ignore_index=True)
