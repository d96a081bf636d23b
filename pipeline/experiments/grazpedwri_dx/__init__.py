"""GRAZPEDWRI-DX: is a fracture visible on a pediatric wrist radiograph? Explained with Grad-CAM.

Source: figshare article 14825193 (Nagy et al., Sci Data 2022): ``dataset.csv`` (one row per
image: patient, projection, flags) and ``images_part1.zip`` .. ``images_part4.zip`` (20,327
16-bit PNGs, about 15 GB). The file ids are pinned in params and confirmed through figshare's
API, whose sizes and md5 sums verify the downloads. A subset of images (whole patients,
stratified by label) is read out of the remote archives with HTTP range requests instead of
downloading them; whole archives resume after an interruption. Downloads go through a cache
folder outside the stage output (``.cache/downloads/grazpedwri_dx``), so an interrupted
multi-GB run picks up where it stopped.

Label: ``fracture_visible`` (blank = 0). Splits are grouped by ``patient_id`` (no patient in two
splits) and stratified by label, computed over the whole ``dataset.csv`` so a subset and the
full data agree on every patient's split. Images keep their 16 bits until a robust intensity
window is applied, keep their aspect ratio (resized, then padded to a square) and stream from
disk (:mod:`.images`).

Not in the default pipeline (it needs internet and a GPU): ``dvc repro
optional/grazpedwri_dx/dvc.yaml``.
"""
