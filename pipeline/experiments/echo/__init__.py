"""Adaptive echo cancellation: LMS, NLMS and RLS on a simulated far-end signal and echo path."""
