"""Everything a run reports outside its DVC outputs: MLflow runs (``runs``, ``store``), the
model registry (``models``) and the console (``console``). Nothing here changes what a stage
writes, which is why ``dvc.yaml`` does not list these modules as code dependencies."""
