"""The demo system: a debt-collection assistant on a real local LLM, with secure retrieval."""
