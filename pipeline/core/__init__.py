"""Running one stage of one experiment: params, paths, seeds, atomic outputs, the stage runner."""
