"""Fetching source files: a mirror first, then HTTP(S) with resume, retries and checksums
(``fetch``), what a source declares (``source``), and safe archive extraction (``archive``)."""
