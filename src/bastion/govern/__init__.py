"""Govern: AI-system inventory, EU AI Act classification, threat models, controls with evidence, risks and
audit packs. Imports ``core`` only (and reads other capabilities' output files, never their packages).

::

    inventory.py   bastion.yaml schema, errors with file/line/field, the example (`govern init`)
    classify.py    EU AI Act procedure (data/govern/ai_act.yaml) + GDPR Art. 22/35 + DORA + supervisor
    threats.py     threat rules (data/govern/threat_rules.yaml), Mermaid DFD, diffs
    evidence.py    EvidenceRecord, Collector protocol, collectors for other capabilities' files
    controls.py    control catalog (data/govern/controls.yaml), status from evidence, coverage matrices
    risks.py       risk register (inherent/residual), heatmap
    assessment.py  all of the above for one inventory
    vendors.py     vendor questionnaire scoring, contract clause checks (EN/DE)
    pack/          HTML, PDF, OSCAL, Annex IV skeleton and policy documents
"""
