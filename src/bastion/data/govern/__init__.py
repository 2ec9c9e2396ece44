"""Govern data: AI Act facts, regimes, controls, frameworks, threat rules, PLOT4ai excerpt, templates."""
