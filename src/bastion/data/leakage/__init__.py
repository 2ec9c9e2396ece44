"""Word lists and HTML tables of the output-leakage detector (:mod:`bastion.detect.leakage`)."""
