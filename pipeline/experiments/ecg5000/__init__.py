"""ECG5000 heartbeats: normal vs abnormal (or the five beat classes) with ROCKET or recurrent
networks.

Sources (``ecg5000.download.layout``):

* ``ucr`` (default): the UCR archive's official split, 500 training and 4500 test beats, the
  class (1..5, 1 = normal) then 140 samples. Its public source is the archive's zip of the
  dataset (``download.ucr_url``, the file aeon's loader reads, holding ``.ts``, ``.txt`` and
  ``.arff`` copies); a mirror may hold that zip or the two TSVs of the 2018 archive. No
  checksum is published, so whatever arrives is accepted by a *content* fingerprint, the
  sha256 of the parsed labels (int64) and samples (float64), which copies with other number
  formatting, line endings or containers share; the stage then writes the split as two
  canonical TSVs (``ECG5000_TRAIN.tsv``, ``ECG5000_TEST.tsv``), byte-identical whichever way
  it came.
* ``csv``: the TensorFlow tutorial's ``ecg.csv`` (no header, 140 samples then the label,
  1 = normal, 0 = abnormal; ``preprocess.csv_normal_label`` flips that for copies such as the
  course report's). ``download.csv_source`` is its URL or a local path. The pipeline splits it
  itself into train/validation/test, stratified and seeded.

Tasks (``preprocess.task``): ``binary`` (normal vs abnormal; class 1 is "abnormal", the
ROC's positive class) and ``multiclass`` (the five UCR classes). By default the recurrent
networks learn the five beat classes for the binary task too and are scored as normal vs the
rest (``preprocess.binary_training_labels``; class weights likewise apply to them only).

Models (``tune.model``): ``random_kernels`` (default) is ROCKET, 10,000 fixed random dilated
convolutions and a ridge classifier on their maxima (:mod:`.rocket`), the strongest method
measured on this split; it learns the task's own labels, and its ridge strength is chosen by
leave-one-out on the training beats. ``recurrent`` is the course's family, searched with
KerasTuner: a small deep ensemble (``train.ensemble_members``) of the tuned Conv1D + recurrent
network, which also sees the raw samples through a linear path (``linear_skip``); the report's
LSTM(50) is its preset ``report_lstm50``.

All beats come from one patient's recording (BIDMC chf07), so there is no subject to group
the validation split by: it is stratified by class only.
"""
