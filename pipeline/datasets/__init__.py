"""Image datasets read by more than one experiment: each module fetches and verifies one
source, keeps it in the canonical form of :mod:`.images`, and reads it back."""
