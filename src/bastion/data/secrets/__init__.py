"""Secret-detection rules and look-alike lists (YAML), loaded by :mod:`bastion.detect.secrets`."""
