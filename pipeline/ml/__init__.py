"""The shared ML toolkit: objectives and search spaces, KerasTuner searches, training,
evaluation, attribution, splits and figures. Experiments compose these functions with their
own data and models."""
