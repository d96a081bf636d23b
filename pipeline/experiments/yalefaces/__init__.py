"""Yale faces: who is this? Recognition on principal components, with a neural PCA that
matches PCA.

Source: the original Yale face database (15 subjects x 11 conditions, 8-bit grayscale GIFs of
320x243), distributed as ``yalefaces.zip`` and verified by content (:mod:`.database`); the
download stage keeps it in a canonical form (:mod:`.canonical`). Some images are
pixel-identical (``noglasses`` == ``normal`` for 7 subjects, ``subject04.sad`` ==
``subject04.normal``, ``subject08.glasses`` == ``subject08.normal``): identical images form
one *group*, and no split ever separates a group.

Protocols (preprocess, :mod:`.protocols`): ``loo`` (leave one group out), ``kfold`` (grouped,
stratified 10-fold) and ``two_subjects`` (the course report's subject01 vs subject02).

Nested selection, and why nothing about a held-out image influences any choice: every outer
fold lies in one *block*, and every choice for it is made on that block's *selection set*, the
protocol's images minus the whole block. The whole nested protocol is repeated
(``preprocess.repeats``) with blocks drawn from other seeds, and the accuracies pool every
repetition's predictions: on 165 images two methods differ by an image or two, and one
partition's luck (its blocks, inner folds, search draws, initial weights) moves a comparison
that much.

* tune: on every selection set a neural PCA (Sanger's rule) is learned and the candidate
  networks are scored by an inner cross-validation inside the set; each set keeps its own
  best candidate.
* train: every outer fold's network is trained on the fold's training images with its set's
  choice, on its set's components; one deployable model (set ``all``) for explain.
* evaluate: the held-out images are predicted, here and nowhere before; the baselines
  (Eigenfaces + 1-NN, Fisherfaces) choose their PCA size on the same selection sets.
"""
