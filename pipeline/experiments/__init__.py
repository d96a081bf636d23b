"""One folder per experiment of the course: its params, sources, preparation, models and one
module per stage (``python -m pipeline.experiments.<name>.<stage>``)."""
