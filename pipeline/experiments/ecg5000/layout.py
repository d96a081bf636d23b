"""What every ECG5000 stage agrees on: a beat's length and the raw files' names."""

SAMPLES = 140
UCR_TRAIN, UCR_TEST = "ECG5000_TRAIN.tsv", "ECG5000_TEST.tsv"
CSV_FILE = "ecg.csv"
