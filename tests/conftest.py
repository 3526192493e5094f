"""Shared pytest configuration: hypothesis profiles (no deadline: Numba may compile)."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "kdtheory",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.load_profile("kdtheory")
