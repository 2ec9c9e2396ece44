"""Bastion: test, protect, watch and prove LLM applications and ML models.

The public surface is organised by capability:

- :mod:`bastion.core` -- shared vocabulary (spans, detections, verdicts, messages), errors, settings,
  the plugin registry and taxonomies (OWASP LLM Top 10 2025, MITRE ATLAS).
- :mod:`bastion.detect` -- the detection engine used by every other capability.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
