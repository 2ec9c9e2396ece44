"""Data of the indirect-injection detector: signature rules and policy thresholds."""
