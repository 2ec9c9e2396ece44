"""Data of the red team's deterministic judges: refusal and misinformation phrase patterns (EN + DE)."""
