"""System identification: a NARX network, an ADALINE and least squares on simulated systems."""
