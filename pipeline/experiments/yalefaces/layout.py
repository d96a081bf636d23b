"""The Yale face database's layout: 15 subjects x 11 conditions of 243x320 pixels, the class
names, the canonical order of the 165 images, and the images that are pixel-identical in the
original distribution."""

from __future__ import annotations

SUBJECTS = 15
CONDITIONS = (
    "centerlight", "glasses", "happy", "leftlight", "noglasses", "normal",
    "rightlight", "sad", "sleepy", "surprised", "wink",
)
IMAGE_SHAPE = (243, 320)  # rows, columns
CLASSES = [f"subject{number:02d}" for number in range(1, SUBJECTS + 1)]
# every image's canonical name, in the canonical order: subject01.centerlight ... subject15.wink
IMAGE_NAMES = [f"{subject}.{condition}" for subject in CLASSES for condition in CONDITIONS]
# Pixel-identical images of the original distribution, besides the zip's duplicate file.
IDENTICAL_IMAGES = [
    *[(f"subject{s}.noglasses", f"subject{s}.normal")
      for s in ("02", "03", "06", "07", "09", "12", "14")],
    ("subject04.normal", "subject04.sad"),
    ("subject08.glasses", "subject08.normal"),
]
