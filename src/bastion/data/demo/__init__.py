"""Data of the demo system: tenants, name lists, note and document templates (:mod:`bastion.demo`)."""
