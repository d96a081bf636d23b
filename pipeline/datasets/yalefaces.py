"""Yale faces: who is this? Recognition on principal components, with a neural PCA that
matches PCA.

Source: the original Yale face database (15 subjects x 11 conditions, 8-bit grayscale GIFs of
320x243 named ``subjectNN.condition`` without extension), distributed as ``yalefaces.zip``.
Its checksum is not known, so what arrives is verified by content: the file names, their
count, the image size and a fingerprint of every image's decoded pixels (:data:`PIXEL_SHA256`).
Two quirks of the original zip are handled when loading: subject 1's centerlight image is
named ``subject01.gif``, and ``subject01.glasses.gif`` is a copy of ``subject01.glasses``
(checked, then left out). Some images are pixel-identical (``noglasses`` == ``normal`` for 7
subjects, ``subject04.sad`` == ``subject04.normal``, ``subject08.glasses`` ==
``subject08.normal``): identical images form one *group*, and no split ever separates a group.

Protocols (preprocess): ``loo`` holds out each group in turn (the classic leave-one-image-out
over 165 images, 156 folds), ``kfold`` uses a grouped 10-fold split stratified by subject, and
``two_subjects`` is the course report's task (subject01 vs subject02), leave-one-image-out.

Nested selection, and why nothing about a held-out image influences any choice. The images are
partitioned into grouped, subject-stratified *blocks* (the k-fold folds). Every outer fold lies
in one block, and every choice made for it is made on that block's *selection set*: the
protocol's images minus the whole block, so minus the held-out images. The whole nested
protocol is repeated (``preprocess.repeats``) with blocks drawn from other seeds, and the
accuracies pool every repetition's predictions: on 165 images two methods differ by an image or
two, and one partition's luck (its blocks, inner folds, search draws, initial weights) moves a
comparison that much.

* tune: on every selection set, a neural PCA (Sanger's rule) is learned and the candidate
  networks are scored by an inner grouped, stratified cross-validation inside the set. The
  candidates are KerasTuner random-search draws, which depend on the seed only, never on
  scores; each set then keeps its own best candidate, by its own inner score.
* train: for every outer fold, the network its set chose is trained on the fold's training
  images (all but the held-out group) on the set's neural-PCA components (learned on the
  selection set, so the unsupervised basis never saw a held-out image either); one deployable
  model (set ``all``: every image) is trained the same way for explain.
* evaluate: the held-out images are predicted, here and nowhere before. The baselines
  (Eigenfaces + 1-NN, Fisherfaces) choose their number of components by the same inner
  cross-validation on the same selection sets, then fit on the fold's training images.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse
from urllib.request import url2pathname

import keras
import keras_tuner as kt
import mlflow
import numpy as np
import pandas as pd
from keras import layers, ops
from PIL import Image, ImageDraw, ImageFilter
from pydantic import Discriminator, Field, Tag, model_validator
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from threadpoolctl import threadpool_limits

from pipeline import attribution, evaluation, plots, tracking, training, tuning
from pipeline.config import StrictModel
from pipeline.datasets.base import Dataset, Metrics, StageContext
from pipeline.download import Source, extract_archive, fetch
from pipeline.errors import DataError, DownloadError, ParamsError
from pipeline.face_detection import crop_faces, detect_faces
from pipeline.grouped_splits import grouped_stratified_split
from pipeline.neural_pca import (
    HebbianParams,
    HebbianPCA,
    fit_hebbian,
    principal_angles,
    unit_variances,
)
from pipeline.task_networks import (
    STEPS_PER_CALL,
    MaskedAccuracy,
    MaskedTaskCrossentropy,
    TaskDense,
    TaskInputs,
    fit_full_batch,
    log_softmax,
    task_labels,
)

log = logging.getLogger(__name__)

ARCHIVE_URL = "http://vision.ucsd.edu/datasets/yale_face_dataset_original/yalefaces.zip"
ARCHIVE = "yalefaces.zip"
FOLDER = "yalefaces"  # the archive's top folder; a mirror may hold it extracted
README = "Readme.txt"
CENTERLIGHT_ALIAS = "subject01.gif"  # subject01.centerlight's name in the original zip
DUPLICATE_COPY = "subject01.glasses.gif"  # a copy of subject01.glasses in the original zip
SUBJECTS = 15
CONDITIONS = (
    "centerlight", "glasses", "happy", "leftlight", "noglasses", "normal",
    "rightlight", "sad", "sleepy", "surprised", "wink",
)
IMAGE_SHAPE = (243, 320)  # rows, columns
CLASSES = [f"subject{number:02d}" for number in range(1, SUBJECTS + 1)]
# Pixel-identical images of the original distribution, besides the duplicate file.
IDENTICAL_IMAGES = [
    *[(f"subject{s}.noglasses", f"subject{s}.normal")
      for s in ("02", "03", "06", "07", "09", "12", "14")],
    ("subject04.normal", "subject04.sad"),
    ("subject08.glasses", "subject08.normal"),
]
# sha256 of each image's decoded pixels (uint8, 243x320, C order), from the real copy.
PIXEL_SHA256 = {
    "subject01.centerlight": "91b7468d30aea2b68e2b0e9afa98ea9584d1b0a8e5eb29bcc083dc66be3b10e8",
    "subject01.glasses": "e8ed7dd1267864bae1ff13d4a32d250c4e8c763902729ecb2a1c1f643f5b7c12",
    "subject01.happy": "b87db4dd03a87bb62b0789cce1b12a719e06b6568cfbe4d961d622984fdf648c",
    "subject01.leftlight": "398251f0c01beb7b9bc9455538630b6d7af2b86b17878443df5819b8d3e61ede",
    "subject01.noglasses": "e0e4f782f4b23666866975ed77cdeb569af10296e436096056c61f7870c5355f",
    "subject01.normal": "6368c9813fb54af6c343fda62802aebb1278a06bdbf23de3fdca10d9add78297",
    "subject01.rightlight": "da5a5a48ef98726c82d6c4357a7950349dcdb4f9be6aea47f2ec04dbbb5a99ac",
    "subject01.sad": "bd7c2dbae0f5a4618af2f46260f33123c6ec702fa45cd9169cd86ae726350485",
    "subject01.sleepy": "ae75da7a2272ed18c1f49a29b71e5a1d9c85c8ed224c3c75cbde992110a3347b",
    "subject01.surprised": "671586a0b897c55fb3087ad5b686155a32c6a64cbe75a34d89059747f2424be5",
    "subject01.wink": "6c00721914d948052136a858a9401281473af49b0f46f50658b0ac5451ff65bf",
    "subject02.centerlight": "2b90c9e0dc52cabba0e81315a6c4e2c53843a186eb1b017ce90d361e15585e63",
    "subject02.glasses": "2ddb1630f9383376e5d1f12d7496a16f32d5979364848fbe0c0a38578cc243de",
    "subject02.happy": "c013140c9f82c4f8fcc1f8d0f21362c8dcea9c51f597d39ebbd03c244d12c2a5",
    "subject02.leftlight": "cc2956acc44a06c292f91b28198ed3b7887c96218a8fef8749b768b7c8760862",
    "subject02.noglasses": "17c5efe2fe91b877b14a77508386c13efd2d622e1bc6be8c97dd19eee80724e4",
    "subject02.normal": "17c5efe2fe91b877b14a77508386c13efd2d622e1bc6be8c97dd19eee80724e4",
    "subject02.rightlight": "3d13ac36b5bb69e0bbd63d6d323927df21a4de8df3b91001bd01a7971d6b826a",
    "subject02.sad": "a3dcc2c8bbbcccccc0d6f73911eda606385461322ab13beb4283e07801af3564",
    "subject02.sleepy": "16714c874de6a1cb4d8b6cf95fabefb112f8c7098082117fdb12c1aa6d7da46a",
    "subject02.surprised": "b0386221e0418d5a9be8b90aacfe1579a1bdddad27ddce0b0410d9bb8f1ab9cf",
    "subject02.wink": "ea32cd54b135fc45037beb5635bb8fa5801a11677fbc36b8834bfb714bd2ec86",
    "subject03.centerlight": "952df946ab637aee1c2027fce9d8b2b338685d97381aa215a0b873d01822ad81",
    "subject03.glasses": "64b58c425e595f2a42b0234dfa690bb9b6b71d6da3986620e0056ccd229c5095",
    "subject03.happy": "ec54683e371e26787e610fafe1b5ad50256a1a4b225f12cc918c4a38fcd31863",
    "subject03.leftlight": "41ebde5f5e16d0ca3bdfb1036785b0073cf91135ed3b0935aca0ff7dc3a0f566",
    "subject03.noglasses": "a9312222cd366d19bfae21ee551aa2e5bdafe7cbfb351f98f42f4010fe830159",
    "subject03.normal": "a9312222cd366d19bfae21ee551aa2e5bdafe7cbfb351f98f42f4010fe830159",
    "subject03.rightlight": "986c9694aaeb696eb91dea68951438c079340eec356228c998127a9eeba37a57",
    "subject03.sad": "3f619e6feedf1a20707994a2e3278a667a93e2db02a5c24dac3f0823b7d39706",
    "subject03.sleepy": "3372362d914790cbf3eafd55fcaed49ce06ceed30204321efa10a540bf5f014e",
    "subject03.surprised": "4851c3d87aa0afbbee7067c835ac98ea8a8a5e93f3d621ea00a4a095feab8612",
    "subject03.wink": "90b2968ab6ded801c20c64d8f33aff8925dd424498e6e999ecee15bf80f24f72",
    "subject04.centerlight": "342f8771329f1980ca2b2276bb8ffa1fbe4e4de2bdc093a3b5a34e5ff8f14330",
    "subject04.glasses": "b87c9cb2d2d02485e7f6e5e9335a58d315e6313fee3862d7080e0d1381097f74",
    "subject04.happy": "693038b387ca31e8ea6a4eedf12b4083f76c2e49e62b2874b3c5b86441217fb5",
    "subject04.leftlight": "372d9d4b2f93fada38428f4ee30e2f58c52fe6b4c48a76c129c84c08c24509ef",
    "subject04.noglasses": "86d3ea18fda622e6c88943a0020455fcf2a8825720f41966dfaf03aa8ec4526b",
    "subject04.normal": "38a3b7809bce9de4131f499daf457fb0f74a904d1e12e1cfb5e03bca98688e00",
    "subject04.rightlight": "9241a85edccecd606d9476f4ce41b8f61c5eda3c5e7c85036479b38db2fab16d",
    "subject04.sad": "38a3b7809bce9de4131f499daf457fb0f74a904d1e12e1cfb5e03bca98688e00",
    "subject04.sleepy": "1d847d551dc5c5cb5d34380a8ce3288a81328b0f88c27cf7d7b506a9bb5f1146",
    "subject04.surprised": "e89412a4c131e62bc9ca9110dc538715123f8ea2fe7ae7f0a685c4d583f323b9",
    "subject04.wink": "fe1dbca477f77bee4128e4e2b24ddccf588fb0057e3bc0e115bdb17cde196a5b",
    "subject05.centerlight": "471a88d8e6794b46d2b097e55114848f2f1ceb8fe464d898f238db43678df071",
    "subject05.glasses": "c4cd72ecc930d6d25529994c606926b836062e637a026b7ddc6c4ab8fc9b4ec0",
    "subject05.happy": "8c89b762ff9ec7f69d25cc579d5eccd4b97330f81a5f35753aa8761fe0d9e1ca",
    "subject05.leftlight": "be639bf96ee9ee4f44c5c4b6938d12c4fab7cab08b4e032923393823a627869d",
    "subject05.noglasses": "b8e8df12af85b207cca8d56162749def0d5a37cd4f0e26cbe2fe0c49f0e2e471",
    "subject05.normal": "e332eeecb802c608343a769190145291a246f390816e81cf96bf07b1a327baba",
    "subject05.rightlight": "6f97d46dd9a17bb62faea6562c6509e73f627931dad84fb7fb8fb9b7b18a3c0e",
    "subject05.sad": "c47697252681179e63ea4f343af2189a74d655f23179788e24e54dc9a8858186",
    "subject05.sleepy": "8b796192f5be89dd9e5f59b3cf4b1331f32a28f625ea07ac96e444e6be784f6a",
    "subject05.surprised": "5c53a01a0f47af1b9a57300dec7729ccc2995945d190fbe9a0a49912e62c0d1e",
    "subject05.wink": "2ce794907ff966bffc42fe77e0ba684d809a08183e74503e7c72043d201c6e34",
    "subject06.centerlight": "9fd95dd3f656b594c6eddd02e294d4b9a8498ce76d3091c89c19924bfb3753fe",
    "subject06.glasses": "1b08e65c3bebc36ea457a42e46894fd018b7c6bf3c0278f0452914293e62283e",
    "subject06.happy": "ba216844568fa7414aca08560bb970dc2096ecbf9deed4a6d1a091911930394a",
    "subject06.leftlight": "720426743c936e00ce21cf006b289732485c77cc91b41300bcd6487d37d3c0c8",
    "subject06.noglasses": "1201279e91c08f414ab60c35553dc8e9b9247df0402be997d2f1937656ec9474",
    "subject06.normal": "1201279e91c08f414ab60c35553dc8e9b9247df0402be997d2f1937656ec9474",
    "subject06.rightlight": "19abbef66b0a8cb9f7fcaef56c0f2714b086ac2acb204fac7c17ddf89e119dcb",
    "subject06.sad": "939dbf2341fcb4d2a05a7e756e0be906603b83748d38d5a75c4856bb03112aa5",
    "subject06.sleepy": "430dcbb05dd73df3fd5b8bc343dac4fd6419ace7598d9f9e02393a22b7756d4f",
    "subject06.surprised": "083499cd5d22b16f0e1c07d6792e7f98b2004d61fb38eeff6b66def3251ea889",
    "subject06.wink": "c756780f9c1f9e16fa89be4c9d4884edfc9fac34599052f1ac9709280067fcb8",
    "subject07.centerlight": "a28f92f4d38fb44e40990136d4fb99da0400b9b824c2b5ef79fe9987862158c5",
    "subject07.glasses": "910d95bbafe9638920338fd108c6881a9a39242932c6ee721fd26987fbb5cc1d",
    "subject07.happy": "7f72f4925e64614cd7b203c0961bdbf85f616c7501ca5b45a88fe349c01f9694",
    "subject07.leftlight": "600f67a0da051a777dfe59086c15587c0a71609ae126f835c3e6fa90e1b09354",
    "subject07.noglasses": "52f14e2f93139adbbbb09c6f263eef15277b718ccb91b3210273e110bebce4c6",
    "subject07.normal": "52f14e2f93139adbbbb09c6f263eef15277b718ccb91b3210273e110bebce4c6",
    "subject07.rightlight": "49eecf8a6421d733c9aa95d36a9066d104eb418d6d07d1017300fb293745a786",
    "subject07.sad": "0b3e08e53c51e45dbdd5d410454c2fd78eaf208d3b42a1d8c8199c739cffc1db",
    "subject07.sleepy": "08725757f3f464185ee7602d1fc32affd59978d71e31a3d28c3e77a7def4dbcb",
    "subject07.surprised": "593c26fdf353830dbf71b9c6bb2157ceb69996e10cc5748b0cf4a1779f16ca4f",
    "subject07.wink": "86f40b07554f71b5c4bc775e6dc9853f061530599ac2d47b195a0646684bcbfb",
    "subject08.centerlight": "04800e3ac2c7d4fea654dcc1e659fa5b8dc812409ab9ee068936707574b7bbd4",
    "subject08.glasses": "78fed9106c94d99fd93d32c5d9cc3234c1a1a1c4cc5c5d44aa00cc02e03c1a6c",
    "subject08.happy": "41beca33fa73cabe3ffe1c576f947417f2322f81af2f22cdf865d93ad595c5ef",
    "subject08.leftlight": "d2c2b2072114883a441517380d8a1a65517829e08eabab65d0669b3c3f22dc14",
    "subject08.noglasses": "965edca174e7b2bc674915124c53ab66f8acb6f41783119867526b3a3b5c81eb",
    "subject08.normal": "78fed9106c94d99fd93d32c5d9cc3234c1a1a1c4cc5c5d44aa00cc02e03c1a6c",
    "subject08.rightlight": "ca0a3891d77f688b87c9275b05ef0e6a41d32b8afe69f7a23c8db583ab86efef",
    "subject08.sad": "2c9d77d35a65f692d7638e653b58dbc99042738dd64a2722fe1cb8bed34c0815",
    "subject08.sleepy": "f73b81f49a15217a065c1cd49c2f9e8aa25c41b88a068eb0bbad38038547b7a8",
    "subject08.surprised": "d197962d4c5daf8e5f8cf0d8a1ab0f1144bf93989b7e51fdc15a17f3553353d6",
    "subject08.wink": "48c33f312e7793f35e50fa95e979af7b3dabdd54e3ed8d3b4d7e5bf75d56c3ac",
    "subject09.centerlight": "778b0c8bf99d0c7d2deba3b9e54ee72f0cd208212df4234802ff993228d8af73",
    "subject09.glasses": "f4024ee9a6354ae04c684263208716331e2a1b1c6f9c4b62af3b7fe0d79fc690",
    "subject09.happy": "5ee4476ad7a9b44641aeb5311674c045486293e44845b9594ecf8a348bee8342",
    "subject09.leftlight": "d1562dfc52279ade2bd8c47d4ffc1fd5b9949407c76c091f4ed3a0ed7c26eda1",
    "subject09.noglasses": "83122cae8632dd7f19454f94529e0d1de56aa64f7dfa793c71c532d821d8f613",
    "subject09.normal": "83122cae8632dd7f19454f94529e0d1de56aa64f7dfa793c71c532d821d8f613",
    "subject09.rightlight": "9b6f9b1d9e64adc48ddf5c3f303c46539e6e9f534745a1faf4f6e921cedd4b91",
    "subject09.sad": "dc3af3a65f65fada652e9147dd9ac32dc9eceaacfda6332bb1c6698dc4d34fc1",
    "subject09.sleepy": "21814a7bf2bbba49714ea2f595206b7afdaf5bf7a8012415ed7532626c510d83",
    "subject09.surprised": "648de58b60a09457f6b1c813c3189e5b9b4666665e402f8885c289701dbd242f",
    "subject09.wink": "1a79d92e4bead0bf79c24469698a5fc05e2fa2b2580f6f1aab72aa728e33b492",
    "subject10.centerlight": "4e68953f0cb692b6529bd44ed60ad8e22c826625a15c463999b9ff65378d7f1f",
    "subject10.glasses": "e6625545881a0eaea398c8482dd1b029cd836800211ee6a5be883142494c4dae",
    "subject10.happy": "047147065f4eb6b8e9e8c3d30e81b52220e599bea7ca953bd89075e4daa5e4c2",
    "subject10.leftlight": "e4ff1271aa8813b73235812dfb1a876e86dfcc5cf24d3fb0037188bb78f8f09e",
    "subject10.noglasses": "0ed78340717e355d6708188dd846fe5ecec236140dbb4225c20deaee5a06eeeb",
    "subject10.normal": "fdc0b1b2075147a8d3f5d220306efffb41d4cd839a1a37d2e0deccc0be5ffec4",
    "subject10.rightlight": "46a191a70bce1af5521995ee39d7216ff17481c9202212325531b2f79d52f922",
    "subject10.sad": "ac051b6275139c6a43826b148577192d25d5be76c4cffe563df75114337735ee",
    "subject10.sleepy": "8b3c7ac0ab83d480b599f8b2c11e967f333fb5bdefe6a05239c9f8795e8de77d",
    "subject10.surprised": "73cc104791b0a38016dfddfe19d244bbda2da6b1f98e3471a13c506e5976b0c2",
    "subject10.wink": "97660cdb7412b7413166a50b6cbbbbe538b9e7b5d18f113891f9d6fbec819641",
    "subject11.centerlight": "0e674057e54b08f2c261354c125799f1e746b0d84192486655f993ab3999a05d",
    "subject11.glasses": "0905afb74ba1cae59828982a45aee5a2420f7fd5950d59de0e40663efc82dff4",
    "subject11.happy": "d58727b003555cd6f6a0b1fe3f3c8747e6a395e236d5fe319438af876439dc96",
    "subject11.leftlight": "f120ddf462a8d985bd418637184b9eb35ad1c26e794c6f0631ced14db85bcb5d",
    "subject11.noglasses": "bf21526af2199911182df9518e415e43410d2c86af9660582fcb0ff40b1220a2",
    "subject11.normal": "c7352f5b7a351948274245c153c80d78bd46435618627434d35a299a6ab346ec",
    "subject11.rightlight": "eb79ed37f61a715cbe84254b9bf407d3fb8d07244dcc6aac063231ec7081c527",
    "subject11.sad": "0a0f3bcf1012faea8d465c483ef7bd98927effb3e3d9c2a6e03252fa07ca6a5a",
    "subject11.sleepy": "bd5456d505ac2b856f7239863c8b1894365cf2e728c43cb46fd32fc89528ad51",
    "subject11.surprised": "42cbddea27d426099bcd487bb6a9ef7fec493d1238fdb424aab5304aaf3206c6",
    "subject11.wink": "71e0cc8c51b89a773dcc872006c3e0dcf69e954848895a2e4c65c4486174dacb",
    "subject12.centerlight": "5ffefc0ff876b25263879715760bad32357765c9b75263959e7b64bd3e35d3f8",
    "subject12.glasses": "c168066ab19560f3118d22e288d806c0d5c9545b7c7d7b5287dd10e3357b9b79",
    "subject12.happy": "fbbaa4f0b8c3ef46840f3f2b8d1c54deeaa51671272e978805c36e5041405d7b",
    "subject12.leftlight": "2df8425d2fbc23a9555acaa689d8523c8bb8992ac2ce2d03e533fcb0d65341bc",
    "subject12.noglasses": "09e2e0a87d2b10214491e9c1035b8b503b529d33b2774eaec6b76ad0a7bacb76",
    "subject12.normal": "09e2e0a87d2b10214491e9c1035b8b503b529d33b2774eaec6b76ad0a7bacb76",
    "subject12.rightlight": "5932a08c3687ddddb2d9a3fbbdbcf56babce9b8fa1f1463faa2ccc6b1c7d054f",
    "subject12.sad": "63f534defc80e711eff3a707752fe44855c94c2eadf15de7764828321e8ca3fb",
    "subject12.sleepy": "e29a941a0a0e525eb136d3d522da4df42deb023e1e098df0501e322fe1e481a8",
    "subject12.surprised": "27edb496bd05ffd02499236f7d96768ad91ccde465ddc8c92c54526d9010419e",
    "subject12.wink": "fc6653c5121235ccc6d97a810a5499e49bb8da5eb3f57feaf9329096638424d8",
    "subject13.centerlight": "61466308e8595742c0d85f66b078d35cf2ea412e00ce23345ac3d47716c82fbe",
    "subject13.glasses": "92da9f3fe9431b80600fc542cf653df094a1fb43f4e103912e92911a5628ad4c",
    "subject13.happy": "91e53af65fbac705ef1788fa20af6cd980e543d123faa32594a0b11efe3f2578",
    "subject13.leftlight": "124d430337eda2ac961685025940cbb449939baf32ef2a6605a4440d3fa9033e",
    "subject13.noglasses": "da2c865243060e690f606abb33252dcb15077aabcb78f0e5abb43bc508214662",
    "subject13.normal": "65a4cf455da180fd5a0bcf8443057812b588aa377c21a429c730f6a14b78fcc0",
    "subject13.rightlight": "bb96676bd8407a40eebcdbb536be3eb030a68b2ba567bf0849c65bd4cebc1c0a",
    "subject13.sad": "a706103d48b0f8ba34fdbaba896d4a7e0cec4ef343f20f6a1c096ce3fa331754",
    "subject13.sleepy": "40b4b8cdcc09ee85f6cc18be1e7ca468c54da33a5c8ac962058e31683ad7b867",
    "subject13.surprised": "823a598771b535cd0f3d69b336045ccb30419b82b93c2eb26a347156d8e631a2",
    "subject13.wink": "9da2534eb6a68827f7a3fde917e5053aae84b5eceebc4f7e1f0b3361e091388b",
    "subject14.centerlight": "cbbae245e17e6e18eb8580ed4b47c17f3c4c362a407145ae2158a3ae65decc24",
    "subject14.glasses": "9e1addaf23dea504eac5eec9ccf2fc7b832a344a30c6b6334496be5652ee6c69",
    "subject14.happy": "0ecc710ce7aa33b0f8684cb2be3bc6b17b21b7f16601565998be9f5a17c6048e",
    "subject14.leftlight": "613e69b831ee574c7abc6e513d495097a7444537a77e6e2443aa7b57a88d970c",
    "subject14.noglasses": "2c0e826230c8cecc6806b3532a88efdc6e54d6aee9f313da184f9e1f725f8d6c",
    "subject14.normal": "2c0e826230c8cecc6806b3532a88efdc6e54d6aee9f313da184f9e1f725f8d6c",
    "subject14.rightlight": "5e6ff6a836b0874999cd87f516a7b021103afb895c3f2db238ae14eb8ecf7039",
    "subject14.sad": "c55245d3320520c31a1426552942f4cd9a0cfb1eaeda0cf3ff92f85ba777d023",
    "subject14.sleepy": "3a60146d7614fe12f3dca5b8c30bee414063e8d5393c7f9e1f5a479f55416e2d",
    "subject14.surprised": "a51adbd1eb01bacc093a51bab8b3cb0e01cfa815e5cc6716617f079e6b0a418a",
    "subject14.wink": "14cbb1e52f60be1e9dd6c0cb5fe4a45c3f4f18ce4510f188d96b50ff76013164",
    "subject15.centerlight": "ec7e2be25078180f1ca6be4312fffcc71640b810053b33e5e0f991901a2357e2",
    "subject15.glasses": "ab3d4e5aa575b1461d0127313e1ab9f29027e1b1e901f58b556fbe1acf46ec26",
    "subject15.happy": "f9698f8cca3362d2f8b53cdc4045409e26d6eb5bdefd1d660bce3183ef07fbbf",
    "subject15.leftlight": "538df5e2ac81c256962be14ad8767aa8067760c622353f497a2994e69058f903",
    "subject15.noglasses": "ba23ccdb242f53d2ca6debcedf7ff0e36d740a8d3c377ef7f2d679ddd625b449",
    "subject15.normal": "8c2aa0e6c79fb7b63c97ea124980552d20c3b47d6339d5db7df109537ea3d42c",
    "subject15.rightlight": "290d39dc43a2c4155f21c50de417073e214b9a014190096c5a42007ec682ed95",
    "subject15.sad": "5aa5ef967baa481e668faa65a2e3301af0e26abf390b1f4b8a09ea435d0ef51f",
    "subject15.sleepy": "cd90b6f455a367be3ba3823d2589a8bbb6974c61fbc0d101b6e02c5f3f43f7f3",
    "subject15.surprised": "b2b646d4ab16adc1ac82d3f651f01638e59b50694bde47e0e756908969cf76fe",
    "subject15.wink": "fb898f31de756593ab9f25056500d07d827e3750779243de9f6d0df47b152317",
}

Protocol = Literal["loo", "kfold", "two_subjects"]
ALL_IMAGES = "all"  # the selection set of the deployable model: every image


# -- params -----------------------------------------------------------------------------------
class DownloadParams(StrictModel):
    url: str = Field(ARCHIVE_URL, description="the original zip (its checksum is not known)")


class CropParams(StrictModel):
    top: int = Field(ge=0)
    bottom: int = Field(le=IMAGE_SHAPE[0])
    left: int = Field(ge=0)
    right: int = Field(le=IMAGE_SHAPE[1])

    @model_validator(mode="after")
    def _check_box(self) -> CropParams:
        if self.top >= self.bottom or self.left >= self.right:
            raise ValueError("the crop box needs top < bottom and left < right")
        return self


class FaceCropParams(StrictModel):
    """A square around the face OpenCV's pretrained detector finds in each image: it undoes
    the shifts and scale changes between photographs that a fixed box keeps."""

    face_margin: float = Field(0.1, ge=0.0, le=1.0, description="added on every side, as a "
                               "fraction of the detected box's width")
    size: int = Field(224, ge=8, le=IMAGE_SHAPE[0], description="side of the square crop in "
                      "pixels, before downsampling")


def _crop_form(value: Any) -> str:
    """Which crop a params value describes, so that its errors are that form's alone."""
    if isinstance(value, dict):
        return "FaceCropParams" if not value or value.keys() & {"face_margin", "size"} else (
            "CropParams")
    return type(value).__name__


Crop = Annotated[
    Annotated[CropParams, Tag("CropParams")] | Annotated[FaceCropParams, Tag("FaceCropParams")],
    Discriminator(_crop_form, custom_error_type="crop_form", custom_error_message=(
        "expected a fixed box {top, bottom, left, right}, a detected face {face_margin, size} "
        "or null")),
]


class PreprocessParams(StrictModel):
    crop: Crop | None = Field(
        FaceCropParams(),
        description="a fixed box around the faces (rows top:bottom, columns left:right), a "
        "detected face ({face_margin, size}), or null for the whole image",
    )
    downsample: int = Field(8, ge=1, le=32, description="average over blocks of this size")
    lighting: Literal["none", "standardize", "equalize"] = Field(
        "equalize", description="per image: standardize (zero mean, unit variance) or equalize "
        "(histogram equalisation)")
    protocols: list[Protocol] = Field(["loo", "kfold", "two_subjects"], min_length=1)
    folds: int = Field(10, ge=2, le=11, description="blocks of the k-fold protocol; also the "
                       "blocks whose complements are the selection sets of every protocol")
    inner_folds: int = Field(5, ge=2, le=10, description="inner cross-validation folds of "
                             "every selection set")
    two_subjects: tuple[int, int] = Field((1, 2), description="the two-subject task's subjects")
    repeats: int = Field(3, ge=1, le=10, description="independent repetitions of every "
                         "protocol's nested selection, each with its own blocks and inner folds "
                         "(seeds seed, seed + 1, ...); accuracies pool all their predictions")

    @model_validator(mode="after")
    def _check_subjects(self) -> PreprocessParams:
        first, second = self.two_subjects
        if first == second or not all(1 <= s <= SUBJECTS for s in self.two_subjects):
            raise ValueError(f"two_subjects needs two different subjects in 1..{SUBJECTS}")
        return self


class TuneParams(tuning.TunerParams):
    """Of the shared tuner settings, ``tuner``, ``objective``, ``max_trials``, ``epochs`` and
    ``search_space`` apply: every trial trains full-batch for ``epochs`` steps."""

    tuner: Literal["random_search"] = Field(
        "random_search", description="candidates must not depend on scores (nested selection)")
    max_trials: int = Field(16, ge=1)
    epochs: int = Field(150, ge=1, description="full-batch epochs of every network, in the "
                        "search and in training")
    neural_pca: HebbianParams = HebbianParams()
    search_space: tuning.SearchSpace = Field(default_factory=lambda: {
        "components": {"values": [30, 40, 60]},
        "hidden_layers": {"values": [0, 1]},
        "units": 64,
        "dropout": {"values": [0.0, 0.3]},
        "l2": {"values": [0.003, 0.01, 0.03]},
        "learning_rate": {"min": 0.02, "max": 0.08, "sampling": "log"},
    }, validate_default=True)

    @model_validator(mode="after")
    def _check_neural_pca(self) -> TuneParams:
        if self.neural_pca.rule != "sanger":
            raise ValueError("neural_pca.rule must be sanger: the network reads the leading "
                             "components, which only Sanger's rule orders")
        return self


class TrainParams(StrictModel):
    oja: HebbianParams = Field(
        HebbianParams(rule="oja", components=20, iterations=12000, step=1.5, tolerance=0.0,
                      whiten=False),
        description="Oja's subspace rule on all images, compared with PCA in evaluate",
    )
    mixed_precision: bool = False


class EvaluateParams(StrictModel):
    baseline_components: list[int] = Field(
        [10, 20, 30, 40, 60], min_length=1, description="PCA sizes the baselines choose from")
    agreement_components: int = Field(20, ge=1, description="top-k subspace compared with PCA")


class ExplainParams(StrictModel):
    eigenfaces: int = Field(10, ge=1, le=40)
    reconstruction_components: list[int] = Field([5, 10, 20, 40, 60], min_length=1)
    faces: int = Field(6, ge=1, le=30, description="faces reconstructed and explained")


class Params(StrictModel):
    download: DownloadParams = DownloadParams()
    preprocess: PreprocessParams = PreprocessParams()
    tune: TuneParams = TuneParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    explain: ExplainParams = ExplainParams()


# -- the database on disk -----------------------------------------------------------------------
_IMAGE_NAME = re.compile(r"subject(\d\d)\.([a-z]+)")


def database_files(folder: Path) -> dict[str, Path]:
    """Canonical image name (``subject01.centerlight``) -> file, with the zip's quirks mapped.

    Raises DataError naming the files that are unexpected, ambiguous or missing.
    """
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    files: dict[str, Path] = {}
    unexpected = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name in (README, DUPLICATE_COPY):
            continue
        canonical = "subject01.centerlight" if name == CENTERLIGHT_ALIAS else name
        match = _IMAGE_NAME.fullmatch(canonical)
        if not path.is_file() or match is None or match[2] not in CONDITIONS or not (
            1 <= int(match[1]) <= SUBJECTS
        ):
            unexpected.append(name)
            continue
        if canonical in files:
            raise DataError(f"{folder}: both {files[canonical].name} and {name} hold "
                            f"{canonical} (keep one)")
        files[canonical] = path
    if unexpected:
        raise DataError(f"{folder}: unexpected files {unexpected[:10]} ({len(unexpected)} in "
                        "all); expected subjectNN.condition images and Readme.txt")
    expected = [f"{subject}.{condition}" for subject in CLASSES for condition in CONDITIONS]
    missing = [name for name in expected if name not in files]
    if missing:
        raise DataError(f"{folder}: {len(missing)} images missing: {missing[:10]}")
    return {name: files[name] for name in expected}


def read_image(path: Path) -> np.ndarray:
    """A face as uint8 (243, 320); DataError naming the file if it is not one."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("L", "P"):
                raise DataError(f"{path}: mode {image.mode}, expected 8-bit grayscale")
            pixels = np.asarray(image.convert("L"))
    except (OSError, SyntaxError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from error
    if pixels.shape != IMAGE_SHAPE:
        raise DataError(f"{path}: {pixels.shape[1]}x{pixels.shape[0]} pixels, expected "
                        f"{IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]}")
    return pixels


def pixel_fingerprint(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def read_database(folder: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """All 165 faces (uint8, (165, 243, 320)) and a table: file, subject (1..15), condition,
    fingerprint and group (images with identical pixels share a group: the lowest index).

    The duplicate ``subject01.glasses.gif``, if present, must hold subject01.glasses's pixels
    (it is then left out); anything else there is a DataError.
    """
    files = database_files(folder)
    pixels = np.stack([read_image(path) for path in files.values()])
    fingerprints = [pixel_fingerprint(image) for image in pixels]
    duplicate = folder / DUPLICATE_COPY
    if duplicate.exists():
        original = list(files).index("subject01.glasses")
        if pixel_fingerprint(read_image(duplicate)) != fingerprints[original]:
            raise DataError(f"{duplicate}: expected a copy of subject01.glasses, but its pixels "
                            "differ; remove it or restore it")
    first_index: dict[str, int] = {}
    table = pd.DataFrame({
        "image": list(files),
        "file": [path.name for path in files.values()],
        "subject": [int(name[7:9]) for name in files],
        "condition": [name.split(".", 1)[1] for name in files],
        "fingerprint": fingerprints,
        "group": [first_index.setdefault(digest, index)
                  for index, digest in enumerate(fingerprints)],
    })
    return pixels, table


def fingerprint_mismatches(table: pd.DataFrame) -> list[str]:
    """Images whose pixels are not the original database's."""
    return [name for name, digest in zip(table["image"], table["fingerprint"], strict=True)
            if PIXEL_SHA256[name] != digest]


def verify_download(folder: Path) -> pd.DataFrame:
    """The database table, if ``folder`` holds exactly the original images; else
    DownloadError saying what differs."""
    try:
        _, table = read_database(folder)
    except DataError as error:
        raise DownloadError(
            f"the downloaded Yale faces are not the expected files: {error}") from None
    wrong = fingerprint_mismatches(table)
    if wrong:
        raise DownloadError(f"{folder}: {len(wrong)} images differ from the original database "
                            f"(pixel fingerprints): {wrong[:10]}")
    return table


def synthetic_faces(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Stand-in faces (uint8, 243x320) under the real names: one drawn face per subject (its
    own shape, tone, features and position), varied by condition (side lighting, glasses,
    expressions), with the real database's pixel-identical pairs."""
    rows, columns = IMAGE_SHAPE
    x = np.arange(columns, dtype="float32")[None, :]
    faces = {}
    for subject in CLASSES:
        centre = (160 + rng.integers(-12, 13), 125 + rng.integers(-8, 9))
        size = (rng.integers(45, 62), rng.integers(62, 80))
        tone = int(rng.integers(110, 180))
        hair = int(rng.integers(20, 90))
        eye_gap = int(rng.integers(16, 26))
        texture = np.asarray(Image.fromarray(rng.uniform(0, 255, (8, 10)).astype("uint8"))
                             .resize((columns, rows), Image.Resampling.BICUBIC), "float32")
        for condition in CONDITIONS:
            canvas = Image.new("L", (columns, rows), int(rng.integers(200, 235)))
            draw = ImageDraw.Draw(canvas)
            cx, cy = centre[0] + rng.integers(-3, 4), centre[1] + rng.integers(-3, 4)
            w, h = size
            draw.ellipse((cx - w - 4, cy - h - 12, cx + w + 4, cy + h // 3), fill=hair)
            draw.ellipse((cx - w, cy - h, cx + w, cy + h), fill=tone)
            eye_height = {"sleepy": 1, "wink": 1, "surprised": 6}.get(condition, 4)
            for side in (-1, 1):
                shut = condition == "wink" and side == 1
                draw.ellipse((cx + side * eye_gap - 7, cy - 20 - (1 if shut else eye_height),
                              cx + side * eye_gap + 7, cy - 20 + (1 if shut else eye_height)),
                             fill=40)
                if condition == "glasses":
                    draw.ellipse((cx + side * eye_gap - 13, cy - 31, cx + side * eye_gap + 13,
                                  cy - 9), outline=15, width=3)
            mouth = {"happy": (12, 0, 180), "sad": (12, 180, 360), "surprised": (9, 0, 360)}
            span, start, end = mouth.get(condition, (14, 0, 180))
            draw.arc((cx - span, cy + 22, cx + span, cy + 42), start, end, fill=50, width=3)
            image = np.asarray(canvas.filter(ImageFilter.GaussianBlur(1.5)), "float32")
            image = image * (0.85 + 0.3 * texture / 255)
            if condition in ("leftlight", "rightlight"):
                ramp = x / columns if condition == "leftlight" else 1 - x / columns
                image *= 0.3 + 0.9 * ramp
            elif condition == "centerlight":
                image = image * 1.15 + 10
            image += rng.normal(0, 3, image.shape)
            faces[f"{subject}.{condition}"] = np.clip(image, 0, 255).astype("uint8")
    for original, copy in IDENTICAL_IMAGES:
        faces[copy] = faces[original]
    return faces


def write_gif(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels, mode="L").save(path, format="GIF")


def extracted_mirror(mirror: str | None) -> Path | None:
    """``<mirror>/yalefaces`` when the mirror is a local folder holding the extracted files.
    (A mirror that holds ``yalefaces/yalefaces.zip``, local or HTTP, is fetched as the
    archive.)"""
    if mirror is None or urlparse(mirror).scheme in ("http", "https"):
        return None
    parsed = urlparse(mirror)
    root = Path(url2pathname(parsed.path)) if parsed.scheme == "file" else Path(mirror)
    folder = root / FOLDER
    has_images = any((folder / name).is_file()
                     for name in (CENTERLIGHT_ALIAS, "subject01.centerlight"))
    return folder if has_images else None


def copy_database(source: Path, target: Path) -> None:
    """Copy the files with the database's names (images, Readme, the zip's duplicate)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.is_file() and (path.name in (README, DUPLICATE_COPY, CENTERLIGHT_ALIAS)
                               or _IMAGE_NAME.fullmatch(path.name)):
            shutil.copyfile(path, target / path.name)


def unpack_archive(archive: Path, target: Path) -> None:
    """Extract the zip (safely) and keep its ``yalefaces/`` folder as ``target``; the zip and
    the rest (macOS ``__MACOSX`` metadata) are removed."""
    unpacked = archive.with_name(archive.name + ".unpacked")
    shutil.rmtree(unpacked, ignore_errors=True)
    try:
        extract_archive(archive, unpacked)
        folder = unpacked / FOLDER
        if not folder.is_dir():
            found = sorted(path.name for path in unpacked.iterdir())
            raise DownloadError(f"{archive}: no {FOLDER}/ folder inside (found {found})")
        shutil.rmtree(target, ignore_errors=True)
        folder.rename(target)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)


# -- preprocess: features and protocols ---------------------------------------------------------
def prepare_features(pixels: np.ndarray, params: PreprocessParams) -> tuple[np.ndarray, tuple[
        int, int], np.ndarray]:
    """Faces in [0, 1], cropped, block-averaged, lighting-normalised and flattened: float32
    (images, height * width), (height, width), and the indices of the images where a face
    crop found no face (cropped with the median detected box instead)."""
    images = pixels.astype("float32") / 255.0
    undetected = np.array([], dtype=int)
    if isinstance(params.crop, FaceCropParams):
        try:
            faces = detect_faces(pixels)
        except ValueError as error:
            raise DataError(f"yalefaces.preprocess.crop: {error}; use a fixed box "
                            "{top, bottom, left, right} instead") from error
        undetected = np.flatnonzero(~faces.detected)
        images = crop_faces(images, faces.boxes, margin=params.crop.face_margin,
                            size=params.crop.size)
    elif params.crop is not None:
        box = params.crop
        images = images[:, box.top : box.bottom, box.left : box.right]
    factor = params.downsample
    height, width = images.shape[1] // factor, images.shape[2] // factor
    if height == 0 or width == 0:
        raise ParamsError(f"yalefaces.preprocess.downsample: {factor} leaves no pixel of the "
                          f"{images.shape[1]}x{images.shape[2]} crop")
    images = images[:, : height * factor, : width * factor]
    images = images.reshape(len(images), height, factor, width, factor).mean(axis=(2, 4))
    flat = images.reshape(len(images), -1)
    if params.lighting == "standardize":
        flat = (flat - flat.mean(axis=1, keepdims=True)) / np.maximum(
            flat.std(axis=1, keepdims=True), 1e-6)
    elif params.lighting == "equalize":
        flat = flat.argsort(axis=1).argsort(axis=1) / (flat.shape[1] - 1)
    return flat.astype("float32"), (height, width), undetected


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


def training_images(folds: pd.DataFrame, repeat: int, protocol: str,
                    outer_fold: int) -> np.ndarray:
    """The images an outer fold trains on: its protocol's images but the held-out ones."""
    rows = folds[(folds["repeat"] == repeat) & (folds["protocol"] == protocol)]
    return rows.loc[rows["outer_fold"] != outer_fold, "image"].to_numpy()


def held_out_images(folds: pd.DataFrame, repeat: int, protocol: str,
                    outer_fold: int) -> np.ndarray:
    rows = folds[(folds["repeat"] == repeat) & (folds["protocol"] == protocol)]
    return rows.loc[rows["outer_fold"] == outer_fold, "image"].to_numpy()


# -- the network -------------------------------------------------------------------------------
def task_network(
    inputs: keras.KerasTensor, hp: kt.HyperParameters, space: dict[str, Any],
    class_mask: np.ndarray,
) -> keras.KerasTensor:
    """Hidden layers and logits for every task, from its components (batch, tasks, k)."""
    tasks = int(class_mask.shape[0])
    # all declared whatever the depth, so that every trial sees the whole space
    hidden_layers = tuning.hyperparameter(hp, "hidden_layers", space, default=0)
    units = tuning.hyperparameter(hp, "units", space, default=64)
    dropout = tuning.hyperparameter(hp, "dropout", space, default=0.0)
    l2 = tuning.hyperparameter(hp, "l2", space, default=0.0)
    x = inputs
    for index in range(1, hidden_layers + 1):
        x = TaskDense(units, tasks, activation="relu", l2=l2, name=f"hidden{index}")(x)
        x = layers.Dropout(dropout, name=f"dropout{index}")(x)
    return TaskDense(len(CLASSES), tasks, l2=l2, class_mask=class_mask.tolist(),
                     name="logits")(x)


def compile_network(model: keras.Model, hp: kt.HyperParameters, space: dict[str, Any]) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(tuning.hyperparameter(hp, "learning_rate", space)),
        loss=MaskedTaskCrossentropy(),
        metrics=[MaskedAccuracy()],
        steps_per_execution=STEPS_PER_CALL,
    )


def task_model(
    hp: kt.HyperParameters, space: dict[str, Any], bases: Sequence[HebbianPCA] | None,
    set_of_task: Sequence[int], class_mask: np.ndarray, max_components: int, features: int,
) -> keras.Model:
    """One network per task. With ``bases`` the model reads pixels and holds each selection
    set's neural PCA; without, it reads precomputed components (batch, sets, max_components)."""
    components = tuning.hyperparameter(hp, "components", space)
    if components > max_components:
        raise ParamsError(f"yalefaces.tune.search_space.components: {components} exceeds the "
                          f"{max_components} components neural_pca learns")
    if bases is None:
        inputs = keras.Input((max(set_of_task) + 1, max_components), name="components")
        stacked = inputs
    else:
        inputs = keras.Input((features,), name="pixels")
        projected = [layers.Reshape((1, max_components), name=f"set{index}")(basis(inputs))
                     for index, basis in enumerate(bases)]
        stacked = projected[0] if len(projected) == 1 else layers.Concatenate(axis=1)(projected)
    x = TaskInputs(list(set_of_task), components, name="task_inputs")(stacked)  # leading k
    model = keras.Model(inputs, task_network(x, hp, space, class_mask), name="yalefaces_tasks")
    compile_network(model, hp, space)
    return model


# -- stage inputs -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Processed:
    """The preprocess stage's output."""

    features: np.ndarray  # (images, height * width) float32
    table: pd.DataFrame  # per image: image, file, subject, condition, group
    folds: pd.DataFrame  # repeat, protocol, image, outer_fold, block, selection_set
    sets: pd.DataFrame  # selection_set, image, inner_fold
    shape: tuple[int, int]

    @classmethod
    def load(cls, folder: Path) -> Processed:
        meta = json.loads((folder / "meta.json").read_text())
        return cls(
            np.load(folder / "features.npy"),
            pd.read_csv(folder / "images.csv", index_col="index"),
            pd.read_csv(folder / "folds.csv"),
            pd.read_csv(folder / "selection_sets.csv"),
            (meta["height"], meta["width"]),
        )

    @property
    def labels(self) -> np.ndarray:
        return (self.table["subject"].to_numpy() - 1).astype("int32")

    def members(self, selection_set: str) -> pd.DataFrame:
        return self.sets[self.sets["selection_set"] == selection_set]

    def outer_folds(self) -> list[tuple[int, str, int, str]]:
        """(repeat, protocol, outer fold, selection set) of every outer fold."""
        unique = self.folds.drop_duplicates(["repeat", "protocol", "outer_fold"])
        return list(unique[["repeat", "protocol", "outer_fold", "selection_set"]]
                    .itertuples(index=False, name=None))

    def classes_of(self, images: np.ndarray) -> np.ndarray:
        """0/1 over the 15 classes: those among ``images``."""
        mask = np.zeros(len(CLASSES), "float32")
        mask[np.unique(self.labels[images])] = 1.0
        return mask


def fit_set_basis(x: np.ndarray, params: HebbianParams, *, seed: int) -> tuple[
        HebbianPCA, pd.DataFrame]:
    """Sanger's rule on a selection set. A set of n images has only n - 1 components, and the
    last of them carry almost no variance: the rule learns them slowly and, next to the rank
    limit, unstably. So at most n / 2 are learned (the two-subject sets have about 20 images)
    and the rest are zero columns: every set offers the networks the same number of inputs."""
    learnable = min(params.components, len(x) // 2)
    layer, history = fit_hebbian(x, params.model_copy(update={"components": learnable}),
                                 seed=seed)
    if learnable == params.components:
        return layer, history
    missing = params.components - learnable
    padded = HebbianPCA(params.components, params.rule)
    scale = np.pad(ops.convert_to_numpy(layer.scale), (0, missing), constant_values=1.0)
    padded.set_basis(ops.convert_to_numpy(layer.mean),
                     np.pad(layer.basis(), ((0, 0), (0, missing))), scale)
    return padded, history


def save_bases(path: Path, bases: dict[str, HebbianPCA]) -> None:
    arrays = {}
    for name, layer in bases.items():
        arrays[f"{name}.mean"] = ops.convert_to_numpy(layer.mean)
        arrays[f"{name}.components"] = layer.basis()
        arrays[f"{name}.scale"] = ops.convert_to_numpy(layer.scale)
    np.savez(path, **arrays)


def load_bases(path: Path) -> dict[str, HebbianPCA]:
    bases = {}
    with np.load(path) as arrays:
        for name in sorted({key.rsplit(".", 1)[0] for key in arrays.files}):
            components = arrays[f"{name}.components"]
            layer = HebbianPCA(components.shape[1], "sanger", name=f"neural_pca_{name}")
            layer.set_basis(arrays[f"{name}.mean"], components, arrays[f"{name}.scale"])
            bases[name] = layer
    return bases


@dataclass(frozen=True)
class InnerTasks:
    """The inner cross-validation of every selection set as tasks of one batched network:
    task t trains on its set minus one inner fold and is scored on that fold."""

    components: np.ndarray  # (images, sets, max components): every set's neural PCA
    set_of_task: list[int]
    set_names: list[str]  # per task
    y_train: np.ndarray  # (images, tasks), -1 where unused
    y_validation: np.ndarray
    class_mask: np.ndarray  # (tasks, classes)
    features: int

    @classmethod
    def build(cls, data: Processed, bases: dict[str, HebbianPCA],
              set_names: Sequence[str]) -> InnerTasks:
        tasks = [(index, name, fold) for index, name in enumerate(set_names)
                 for fold in sorted(data.members(name)["inner_fold"].unique())]
        train, validation = [], []
        for _, name, fold in tasks:
            members = data.members(name)
            train.append(members.loc[members["inner_fold"] != fold, "image"].to_numpy())
            validation.append(members.loc[members["inner_fold"] == fold, "image"].to_numpy())
        return cls(
            np.stack([ops.convert_to_numpy(bases[name](data.features)) for name in set_names],
                     axis=1),
            [index for index, _, _ in tasks], [name for _, name, _ in tasks],
            task_labels(data.labels, train), task_labels(data.labels, validation),
            np.stack([data.classes_of(images) for images in train]), data.features.shape[1])

    def model(self, hp: kt.HyperParameters, space: dict[str, Any], tasks: list[int],
              sets: list[int] | None = None) -> keras.Model:
        sets = sets if sets is not None else sorted({self.set_of_task[t] for t in tasks})
        return task_model(hp, space, None, [sets.index(self.set_of_task[t]) for t in tasks],
                          self.class_mask[tasks], self.components.shape[2], self.features)

    def fit_and_predict(self, hp: kt.HyperParameters, space: dict[str, Any],
                        epochs: int) -> np.ndarray:
        """Log-probabilities (images, tasks, classes) of every task's network. The
        two-subject tasks see 22 images: they train in a model of their own."""
        families: dict[bool, list[int]] = {}
        for task, name in enumerate(self.set_names):
            families.setdefault(name.startswith("two_"), []).append(task)
        result = np.zeros((*self.y_validation.shape, len(CLASSES)), "float32")
        for tasks in families.values():
            used = np.concatenate([self.y_train[:, tasks], self.y_validation[:, tasks]], axis=1)
            rows = np.flatnonzero((used >= 0).any(axis=1))
            sets = sorted({self.set_of_task[t] for t in tasks})
            x = self.components[rows][:, sets]
            model = self.model(hp, space, tasks, sets)
            fit_full_batch(model, x, self.y_train[np.ix_(rows, tasks)], epochs)
            result[np.ix_(rows, tasks)] = log_softmax(model.predict(x, batch_size=len(x),
                                                                    verbose=0))
        return result


def best_for_set(trials: Sequence[kt.engine.trial.Trial], name: str) -> dict[str, Any]:
    """The trial with the best inner accuracy on selection set ``name`` (then the lower inner
    loss, then the earlier trial), by that set's own scores only."""
    def key(trial: kt.engine.trial.Trial) -> tuple[float, ...]:
        return (trial.metrics.get_last_value(f"{name}_accuracy"),
                -trial.metrics.get_last_value(f"{name}_loss"), -int(trial.trial_id))

    best = max(trials, key=key)
    return {
        "trial_id": best.trial_id,
        "hyperparameters": best.hyperparameters.values,
        "inner_accuracy": best.metrics.get_last_value(f"{name}_accuracy"),
        "inner_loss": best.metrics.get_last_value(f"{name}_loss"),
    }


class _SetSelectionSearch(kt.RandomSearch):
    """KerasTuner's random search, every trial scored on every selection set at once.

    Random search draws candidates from its seed alone, so no score (and so no held-out
    image) decides what is tried. ``run_trial`` returns each set's own inner accuracy and
    loss beside the pooled objective, which only ranks trials in KerasTuner's summary.
    """

    def __init__(self, score: Callable[[kt.HyperParameters], dict[str, float]],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._score = score

    def run_trial(self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any) -> dict[
            str, float]:
        with tuning.trial_run(trial):
            scores = self._score(trial.hyperparameters)
            tracking.log_numeric_metrics(scores)
        return scores


class YaleFaces(Dataset):
    name = "yalefaces"
    Params = Params

    # -- download ------------------------------------------------------------------------------
    def sources(self, params: Params) -> Sequence[Source]:
        return [Source(self.name, params.download.url, ARCHIVE)]

    def content_matches(self, source: Source, path: Path) -> bool:
        """Whether the zip at ``path`` holds exactly the original images (by pixels)."""
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
            copy = Path(scratch) / ARCHIVE
            shutil.copyfile(path, copy)
            try:
                unpack_archive(copy, Path(scratch) / FOLDER)
                verify_download(Path(scratch) / FOLDER)
            except DownloadError as error:
                log.warning("%s: %s", path, error)
                return False
        return True

    def write_synthetic(self, out: Path, params: Params, rng: np.random.Generator) -> None:
        """Generated faces under the original zip's names and quirks: ``subject01.gif``,
        the duplicate ``subject01.glasses.gif`` and the identical pairs."""
        folder = out / FOLDER
        folder.mkdir()
        for name, pixels in synthetic_faces(rng).items():
            file = CENTERLIGHT_ALIAS if name == "subject01.centerlight" else name
            write_gif(folder / file, pixels)
        shutil.copyfile(folder / "subject01.glasses", folder / DUPLICATE_COPY)
        (folder / README).write_text("Synthetic stand-in for the Yale face database.\n")

    def download(self, ctx: StageContext) -> Metrics:
        """The extracted files from a mirror folder, else the archive (mirror or network) by
        :func:`pipeline.download.fetch`; either way verified by content."""
        if ctx.synthetic:
            return {**super().download(ctx), "origin": "synthetic"}
        target = ctx.out / FOLDER
        mirror = ctx.shared.data.mirror
        folder = extracted_mirror(mirror)
        table = None
        if folder is not None:
            copy_database(folder, target)
            try:
                table = verify_download(target)
                origin = "mirror folder"
            except DownloadError as error:
                log.warning("Ignoring the mirror folder %s (%s); fetching the archive",
                            folder, error)
                shutil.rmtree(target)
        if table is None:
            source = self.sources(ctx.params)[0]
            archive = fetch(source, ctx.out, mirror=mirror,
                            content_check=lambda path: self.content_matches(source, path))
            unpack_archive(archive, target)
            archive.unlink()
            table = verify_download(target)
            origin = "archive"
        files = [path for path in target.iterdir() if path.is_file()]
        return {
            "files": len(files),
            "bytes": sum(path.stat().st_size for path in files),
            "images": len(table),
            "identical_image_groups": int((table["group"].value_counts() > 1).sum()),
            "origin": origin,
        }

    # -- preprocess ----------------------------------------------------------------------------
    def preprocess(self, ctx: StageContext) -> Metrics:
        params = ctx.params.preprocess
        pixels, table = read_database(ctx.paths.raw / FOLDER)
        if not ctx.synthetic and (wrong := fingerprint_mismatches(table)):
            raise DataError(f"{ctx.paths.raw / FOLDER}: {len(wrong)} images are not the "
                            f"downloaded originals: {wrong[:10]}")
        features, (height, width), undetected = prepare_features(pixels, params)
        if len(undetected):
            log.warning("yalefaces: no face found in %s; cropped with the median face box",
                        list(table.loc[undetected, "image"]))
        folds, sets = split_protocols(table, params, ctx.seed)
        np.save(ctx.out / "features.npy", features)
        table.drop(columns="fingerprint").to_csv(ctx.out / "images.csv", index_label="index")
        folds.to_csv(ctx.out / "folds.csv", index=False)
        sets.to_csv(ctx.out / "selection_sets.csv", index=False)
        (ctx.out / "meta.json").write_text(json.dumps(
            {"height": height, "width": width, "classes": CLASSES}, indent=2))
        shown = table.index[table["subject"] <= 2]
        plots.image_gallery(
            ctx.out / "faces.png", features[shown].reshape(-1, height, width),
            list(table.loc[shown, "image"]), columns=11,
            suptitle=f"Prepared faces ({height}x{width}, lighting: {params.lighting})")
        return {
            "images": len(table),
            "height": height,
            "width": width,
            "identical_image_groups": int((table["group"].value_counts() > 1).sum()),
            "faces_not_detected": len(undetected),
            "repeats": params.repeats,
            **{f"{protocol}_outer_folds": int(folds.loc[
                (folds["protocol"] == protocol) & (folds["repeat"] == 0), "outer_fold"].nunique())
               for protocol in params.protocols},
            "selection_sets": int(sets["selection_set"].nunique()),
        }

    # -- tune ----------------------------------------------------------------------------------
    def tune(self, ctx: StageContext) -> Metrics:
        params = ctx.params.tune
        data = Processed.load(ctx.paths.processed)
        started = time.perf_counter()
        set_names = sorted(data.sets["selection_set"].unique())
        bases, histories = {}, []
        for name in set_names:
            members = data.members(name)["image"].to_numpy()
            seed = int(ctx.rng(f"neural-pca-{name}").integers(2**31))
            bases[name], history = fit_set_basis(data.features[members], params.neural_pca,
                                                 seed=seed)
            histories.append(history.assign(selection_set=name))
        pca_seconds = time.perf_counter() - started
        inner = InnerTasks.build(data, bases, set_names)
        space = params.search_space

        def score(hp: kt.HyperParameters) -> dict[str, float]:
            with training.device_scope(False):
                log_probabilities = inner.fit_and_predict(hp, space, params.epochs)
            return inner_scores(log_probabilities, inner.y_validation, inner.set_names)

        probe = kt.HyperParameters()  # declares the whole space before the first trial
        inner.model(probe, space, list(range(len(inner.set_names))))
        workdir = ctx.paths.tuner_workdir(tuning.configuration_hash(
            params.model_dump(mode="json"), ctx.seed, ctx.synthetic,
            hashlib.sha256(data.features.tobytes()).hexdigest(),
            data.sets.to_json(), data.table["subject"].tolist()))
        tuner = _SetSelectionSearch(
            score, hyperparameters=probe, objective=params.objective,
            max_trials=params.max_trials, seed=ctx.seed, directory=str(workdir.parent),
            project_name=workdir.name, overwrite=False)
        tuner.search()
        trials = [trial for trial in tuner.oracle.trials.values()
                  if trial.status == "COMPLETED"]
        selection = {name: best_for_set(trials, name) for name in set_names}
        (ctx.out / "selection.json").write_text(json.dumps(
            {"epochs": params.epochs, "sets": selection}, indent=2, sort_keys=True))
        pd.DataFrame([{"trial_id": trial.trial_id, **trial.hyperparameters.values,
                       **{metric: trial.metrics.get_last_value(metric)
                          for metric in trial.metrics.metrics}} for trial in trials]
                     ).to_csv(ctx.out / "trials.csv", index=False)
        save_bases(ctx.out / "bases.npz", bases)
        pd.concat(histories).to_csv(ctx.out / "neural_pca_history.csv", index=False)
        deployable = selection[ALL_IMAGES]["hyperparameters"]
        mlflow.log_params({f"best.{key}": value for key, value in deployable.items()})
        mlflow.log_artifact(str(ctx.out / "selection.json"), artifact_path="tune")
        chosen = pd.DataFrame([entry["hyperparameters"] for entry in selection.values()])
        return {
            "trials": len(trials),
            "selection_sets": len(set_names),
            "tasks_per_trial": len(inner.set_names),
            "neural_pca_seconds": round(pca_seconds, 1),
            "search_seconds": round(time.perf_counter() - started - pca_seconds, 1),
            "all_inner_accuracy": selection[ALL_IMAGES]["inner_accuracy"],
            "distinct_choices": len(chosen.drop_duplicates()),
            **{f"all_{key}": value for key, value in deployable.items()},
        }

    # -- train ---------------------------------------------------------------------------------
    def train(self, ctx: StageContext) -> Metrics:
        data = Processed.load(ctx.paths.processed)
        tuned = json.loads((ctx.paths.tune / "selection.json").read_text())
        bases = load_bases(ctx.paths.tune / "bases.npz")
        epochs, chosen = tuned["epochs"], tuned["sets"]
        max_components = next(iter(bases.values())).units
        features, labels = data.features, data.labels
        started = time.perf_counter()
        with training.device_scope(ctx.params.train.mixed_precision):
            values = chosen[ALL_IMAGES]["hyperparameters"]
            model = task_model(tuning.fixed_hyperparameters(values), values, [bases[ALL_IMAGES]],
                               [0], np.ones((1, len(CLASSES)), "float32"), max_components,
                               features.shape[1])
            history = fit_full_batch(model, features, labels[:, None], epochs,
                                     callbacks=[training.MlflowEpochLogger()])
            model.save(ctx.out / "model.keras")
            fold_tasks = self._train_fold_models(data, bases, chosen, epochs, ctx.out)
        training.save_history(history, ctx.plots / "history.csv")
        plots.training_history(history, ctx.out / "history.png")
        oja, oja_history = fit_hebbian(features, ctx.params.train.oja,
                                       seed=int(ctx.rng("neural-pca-oja").integers(2**31)))
        save_bases(ctx.out / "oja.npz", {"oja": oja})
        oja_history.to_csv(ctx.out / "oja_history.csv", index=False)
        shutil.copyfile(ctx.paths.tune / "bases.npz", ctx.out / "bases.npz")
        mlflow.log_artifacts(str(ctx.out), artifact_path="model")
        return {
            "epochs": epochs,
            "final_training_accuracy": float(history["accuracy"].iloc[-1]),
            "parameters": int(model.count_params()),
            "fold_networks": len(fold_tasks),
            "fold_models": int(fold_tasks["model"].nunique()),
            "oja_iterations": int(oja_history["iteration"].iloc[-1]),
            "training_seconds": round(time.perf_counter() - started, 1),
        }

    def _train_fold_models(self, data: Processed, bases: dict[str, HebbianPCA],
                           chosen: dict[str, Any], epochs: int, out: Path) -> pd.DataFrame:
        """One network per outer fold, trained on the fold's training images with its
        selection set's choice; folds sharing a choice train side by side in one model."""
        folder = out / "fold_models"
        folder.mkdir()
        folds = pd.DataFrame(data.outer_folds(), columns=["repeat", "protocol", "outer_fold",
                                                          "selection_set"])
        folds["choice"] = [json.dumps(chosen[name]["hyperparameters"], sort_keys=True)
                           for name in folds["selection_set"]]
        max_components = next(iter(bases.values())).units
        frames = []
        for number, (choice, rows) in enumerate(folds.groupby("choice", sort=True)):
            values = json.loads(choice)
            set_names = sorted(rows["selection_set"].unique())
            images = [training_images(data.folds, *outer_fold) for outer_fold in zip(
                rows["repeat"], rows["protocol"], rows["outer_fold"], strict=True)]
            class_mask = np.stack([data.classes_of(train) for train in images])
            model = task_model(
                tuning.fixed_hyperparameters(values), values, [bases[name] for name in set_names],
                [set_names.index(name) for name in rows["selection_set"]], class_mask,
                max_components, data.features.shape[1])
            labels = task_labels(data.labels, images)
            used = np.flatnonzero((labels >= 0).any(axis=1))  # 22 for the two-subject task
            fit_full_batch(model, data.features[used], labels[used], epochs)
            file = f"model_{number:02d}.keras"
            model.save(folder / file)
            frames.append(rows.drop(columns="choice").assign(model=file,
                                                             task=range(len(rows))))
        tasks = pd.concat(frames, ignore_index=True)
        tasks.to_csv(out / "fold_tasks.csv", index=False)
        return tasks

    # -- evaluate ------------------------------------------------------------------------------
    def evaluate(self, ctx: StageContext) -> Metrics:
        data = Processed.load(ctx.paths.processed)
        params = ctx.params.evaluate
        with threadpool_limits(1):  # small SVDs: threads only fight over a busy CPU
            frames = [network_predictions(data, ctx.paths.model),
                      *baseline_predictions(data, sorted(params.baseline_components))]
            agreement = neural_pca_agreement(data, ctx.paths.model, params.agreement_components,
                                             ctx.out)
        predictions = pd.concat(frames, ignore_index=True)
        predictions["condition"] = data.table.loc[predictions["image"], "condition"].to_numpy()
        predictions["correct"] = predictions["actual"] == predictions["predicted"]
        predictions.to_csv(ctx.out / "predictions.csv", index=False)
        accuracy = predictions.groupby(["protocol", "method"])["correct"].agg(["mean", "size"])
        accuracy.to_csv(ctx.out / "accuracy.csv")
        by_repeat = predictions.groupby(["protocol", "method", "repeat"])["correct"].mean()
        by_repeat.unstack("repeat").to_csv(ctx.out / "accuracy_by_repeat.csv")
        by_condition = predictions.groupby(["protocol", "method", "condition"])["correct"].mean()
        by_condition.unstack("condition").to_csv(ctx.out / "accuracy_by_condition.csv")
        main = next(p for p in ("loo", "kfold", "two_subjects") if p in accuracy.index)
        network = predictions[(predictions["protocol"] == main)
                              & (predictions["method"] == "network")]
        y_true, y_pred = network["actual"].to_numpy(), network["predicted"].to_numpy()
        evaluation.write_predictions(ctx.plots / "predictions.csv", y_true, y_pred, CLASSES)
        evaluation.write_confusion_matrix(ctx.out, y_true, y_pred, CLASSES)
        errors = network[~network["correct"]]
        shown = errors["image"].to_numpy()[:24]
        plots.image_gallery(
            ctx.out / "misclassified.png",
            data.features[shown].reshape(-1, *data.shape),
            [f"{data.table.loc[i, 'image']}→{CLASSES[p]} (r{r})"
             for i, p, r in zip(shown, errors["predicted"], errors["repeat"], strict=False)],
            suptitle=f"{main}: the network's errors ({len(errors)}, all repetitions)")
        mlflow.log_artifacts(str(ctx.out), artifact_path="evaluate")
        return {
            **{f"{protocol}_{method}_accuracy": float(row["mean"])
               for (protocol, method), row in accuracy.iterrows()},
            **{f"{protocol}_{method}_predictions": int(row["size"])
               for (protocol, method), row in accuracy.iterrows()},
            **{f"{protocol}_{method}_accuracy_repeat{repeat}": float(value)
               for (protocol, method, repeat), value in by_repeat.items()
               if method in ("network", "fisherfaces")},
            **{f"{main}_network_accuracy_{condition}": float(value)
               for (protocol, method, condition), value in by_condition.items()
               if protocol == main and method == "network"},
            **evaluation.classification_metrics(y_true, y_pred, CLASSES),
            **agreement,
        }

    # -- explain -------------------------------------------------------------------------------
    def explain(self, ctx: StageContext) -> Metrics:
        data = Processed.load(ctx.paths.processed)
        params = ctx.params.explain
        height, width = data.shape
        sanger = load_bases(ctx.paths.model / "bases.npz")[ALL_IMAGES]
        oja = load_bases(ctx.paths.model / "oja.npz")["oja"]
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
        model = keras.models.load_model(ctx.paths.model / "model.keras", compile=False)
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
        mlflow.log_artifacts(str(ctx.out), artifact_path="explain")
        return {
            "eigenfaces_shown": shown,
            "faces_explained": len(faces),
            **errors,
            **{f"explained_variance_{name.lower()}_{k}": float(values[k - 1])
               for name, values in cumulative.items() for k in ks},
        }


# -- evaluate and explain helpers -------------------------------------------------------------
def inner_scores(log_probabilities: np.ndarray, y_validation: np.ndarray,
                 set_of_task: Sequence[str]) -> dict[str, float]:
    """Inner cross-validation accuracy and mean log loss per selection set, and pooled."""
    totals: dict[str, list[float]] = {}
    for task, name in enumerate(set_of_task):
        rows = np.flatnonzero(y_validation[:, task] >= 0)
        labels = y_validation[rows, task]
        scores = log_probabilities[rows, task]
        entry = totals.setdefault(name, [0.0, 0.0, 0.0])
        entry[0] += float((scores.argmax(axis=1) == labels).sum())
        entry[1] += float(-scores[np.arange(len(rows)), labels].sum())
        entry[2] += len(rows)
    result = {}
    for name, (correct, loss, count) in totals.items():
        result[f"{name}_accuracy"] = correct / count
        result[f"{name}_loss"] = loss / count
    pooled = np.sum(list(totals.values()), axis=0)
    result["val_accuracy"] = float(pooled[0] / pooled[2])
    result["val_loss"] = float(pooled[1] / pooled[2])
    return result


def network_predictions(data: Processed, models: Path) -> pd.DataFrame:
    """Every protocol's held-out predictions by the network its outer fold trained."""
    tasks = pd.read_csv(models / "fold_tasks.csv")
    rows = []
    for file, group in tasks.groupby("model"):
        model = keras.models.load_model(models / "fold_models" / file, compile=False)
        logits = model.predict(data.features, batch_size=len(data.features), verbose=0)
        for repeat, protocol, fold, task in zip(group["repeat"], group["protocol"],
                                                group["outer_fold"], group["task"], strict=True):
            held_out = held_out_images(data.folds, repeat, protocol, fold)
            rows.append(pd.DataFrame({
                "repeat": repeat, "protocol": protocol, "method": "network", "image": held_out,
                "actual": data.labels[held_out],
                "predicted": logits[held_out, task].argmax(axis=1)}))
    return pd.concat(rows, ignore_index=True)


def nearest_neighbour(train: np.ndarray, labels: np.ndarray, test: np.ndarray) -> np.ndarray:
    distances = ((test[:, None, :] - train[None, :, :]) ** 2).sum(axis=-1)
    return labels[distances.argmin(axis=1)]


def classify_projected(method: str, train: np.ndarray, labels: np.ndarray,
                       test: np.ndarray) -> np.ndarray:
    """1-NN on PCA projections (Eigenfaces), or on their LDA projections (Fisherfaces)."""
    if method != "eigenfaces_1nn":
        lda = LinearDiscriminantAnalysis().fit(train, labels)
        train, test = lda.transform(train), lda.transform(test)
    return nearest_neighbour(train, labels, test)


def inner_correct(method: str, x: np.ndarray, y: np.ndarray, inner: np.ndarray,
                  candidates: Sequence[int]) -> np.ndarray:
    """Per candidate PCA size, the images the inner cross-validation classifies right; sizes
    a fold cannot support (>= its training images) count as wrong."""
    correct = np.zeros(len(candidates))
    for fold in np.unique(inner):
        train, validation = inner != fold, inner == fold
        pca = PCA(min(max(candidates), int(train.sum()) - 1), svd_solver="full").fit(x[train])
        z_train, z_validation = pca.transform(x[train]), pca.transform(x[validation])
        for index, k in enumerate(candidates):
            if k <= pca.n_components_:
                predicted = classify_projected(method, z_train[:, :k], y[train],
                                               z_validation[:, :k])
                correct[index] += (predicted == y[validation]).sum()
    return correct


def choose_components(method: str, x: np.ndarray, y: np.ndarray, inner: np.ndarray,
                      candidates: Sequence[int]) -> int:
    """The candidate PCA size with the best inner cross-validation accuracy (smallest on a
    tie)."""
    return int(candidates[int(np.argmax(inner_correct(method, x, y, inner, candidates)))])


def baseline_predictions(data: Processed, candidates: Sequence[int]) -> list[pd.DataFrame]:
    """Eigenfaces + 1-NN and Fisherfaces (PCA + LDA + 1-NN), their PCA size chosen by the
    inner cross-validation of each outer fold's selection set, and classic Fisherfaces (PCA
    to N - c, no choice), fitted on each outer fold's training images."""
    x, y = data.features, data.labels
    chosen: dict[tuple[str, str], int] = {}
    rows = []
    for repeat, protocol, fold, name in data.outer_folds():
        train = training_images(data.folds, repeat, protocol, fold)
        held_out = held_out_images(data.folds, repeat, protocol, fold)
        for method in ("eigenfaces_1nn", "fisherfaces", "fisherfaces_classic"):
            if method == "fisherfaces_classic":
                k = len(train) - len(np.unique(y[train]))
            else:
                if (method, name) not in chosen:
                    members = data.members(name)
                    images = members["image"].to_numpy()
                    chosen[method, name] = choose_components(
                        method, x[images], y[images], members["inner_fold"].to_numpy(),
                        candidates)
                k = chosen[method, name]
            pca = PCA(k, svd_solver="full").fit(x[train])
            predicted = classify_projected(method.removesuffix("_classic"), pca.transform(
                x[train]), y[train], pca.transform(x[held_out]))
            rows.append(pd.DataFrame({"repeat": repeat, "protocol": protocol, "method": method,
                                      "image": held_out, "actual": y[held_out],
                                      "predicted": predicted, "components": k}))
    return rows


def aligned(basis: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``basis`` with each column's sign flipped to agree with ``reference``'s (display)."""
    signs = np.sign(np.sum(basis * reference, axis=0))
    return basis * np.where(signs == 0, 1, signs)


def neural_pca_agreement(data: Processed, models: Path, top: int, out: Path) -> Metrics:
    """Principal angles and explained variances of the neural PCAs vs scikit-learn's PCA on
    the same images: Sanger and Oja on all images, and Sanger on every selection set."""
    bases = load_bases(models / "bases.npz")
    oja = load_bases(models / "oja.npz")["oja"]
    x = data.features
    pca = PCA(bases[ALL_IMAGES].units, svd_solver="full").fit(x)
    reference = pca.components_.T
    total = ((x - pca.mean_) ** 2).sum(axis=1).mean()
    pca_share = unit_variances(x, pca.mean_, reference) / total
    sanger = bases[ALL_IMAGES].basis()
    sanger_share = unit_variances(x, pca.mean_, sanger) / total
    oja_share = np.sort(unit_variances(x, pca.mean_, oja.basis()))[::-1] / total
    k, k_oja = min(top, sanger.shape[1]), min(top, oja.units)
    angles = principal_angles(sanger[:, :k], reference[:, :k])
    pd.DataFrame({
        "component": np.arange(1, len(pca_share) + 1),
        "pca": pca_share,
        "sanger": sanger_share,
        "oja_sorted": np.pad(oja_share, (0, len(pca_share) - len(oja_share)),
                             constant_values=np.nan),
    }).to_csv(out / "explained_variance.csv", index=False)
    line_plot(out / "explained_variance_per_component.png", np.arange(1, len(pca_share) + 1),
              {"PCA": pca_share, "Sanger (GHA)": sanger_share},
              "component", "share of the variance", "Explained variance per component",
              log_y=True)
    set_angles = {}
    for name, layer in bases.items():  # the components each set learned (at most n / 2)
        images = data.members(name)["image"].to_numpy()
        learned = min(k, len(images) // 2)
        reference_set = PCA(learned, svd_solver="full").fit(x[images]).components_.T
        set_angles[name] = float(principal_angles(layer.basis()[:, :learned],
                                                  reference_set).max())
    return {
        f"sanger_max_angle_top{k}_degrees": float(angles.max()),
        f"sanger_max_angle_top{sanger.shape[1]}_degrees": float(
            principal_angles(sanger, reference).max()),
        f"sanger_max_variance_error_top{k}": float(
            np.abs(sanger_share[:k] / pca_share[:k] - 1).max()),
        f"oja_max_angle_top{k_oja}_degrees": float(
            principal_angles(oja.basis()[:, :k_oja], reference[:, :k_oja]).max()),
        f"oja_subspace_variance_error_top{k_oja}": float(
            abs(oja_share[:k_oja].sum() / pca_share[:k_oja].sum() - 1)),
        f"selection_sets_max_angle_top{k}_degrees": max(set_angles.values()),
        "selection_sets_angle_above_2_degrees": sum(angle > 2 for angle in set_angles.values()),
    }


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


def line_plot(path: Path, x: np.ndarray, series: dict[str, np.ndarray], x_label: str,
              y_label: str, title: str, *, log_y: bool = False) -> None:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for label, values in series.items():
        axis.plot(x[: len(values)], values, label=label)
    axis.set(title=title, xlabel=x_label, ylabel=y_label, yscale="log" if log_y else "linear")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


DATASET = YaleFaces()
