"""Data of the PII detector: structured patterns, name gazetteers, address and date vocabularies."""
