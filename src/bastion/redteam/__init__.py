"""Red team: campaigns of probes, mutators and judges against LLM applications (see docs/redteam.md)."""
