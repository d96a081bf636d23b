"""The HTML report of a workspace's results (``python -m pipeline.report``)."""
