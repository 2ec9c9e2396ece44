"""The whole loop on embedded defaults: attack the demo assistant directly and through the gateway, measure
what the guard blocks (attacks and benign customer messages) and what it costs, and write one report.

See ``docs/showcase.md``; ``bastion showcase`` runs it.
"""

from bastion.showcase.loop import ShowcaseResult, ShowcaseSettings, run_showcase

__all__ = ["ShowcaseResult", "ShowcaseSettings", "run_showcase"]
