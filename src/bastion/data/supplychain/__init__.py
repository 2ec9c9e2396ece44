"""Supply-chain scanner data (YAML): pickle globals policy, popular AI package names, Jinja rules."""
