"""Rebuild the taxonomy data files shipped in the package from ``../shared/catalogs``.

Usage: ``python scripts/build_taxonomy.py [--catalogs ../shared/catalogs]``

Writes ``src/bastion/data/taxonomy/owasp_llm_2025.yaml`` (ids, official titles, related ATLAS ids; the
summaries are the catalog's own paraphrase, CC BY-SA 4.0) and ``mitre_atlas.yaml`` (ids, names and
tactics of techniques and tactics from MITRE ATLAS, Apache-2.0).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parents[1] / "src" / "bastion" / "data" / "taxonomy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--catalogs",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "catalogs",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    owasp = yaml.safe_load((args.catalogs / "owasp" / "owasp_genai_top10.yaml").read_text())
    items = [
        {"id": item["id"], "title": item["title"], "summary": item["summary"], "atlas": item.get("atlas", [])}
        for item in owasp["llm_top10_2025"]["items"]
    ]
    header = (
        "# OWASP Top 10 for LLM Applications 2025: ids, official titles, summaries, related ATLAS ids.\n"
        "# Summaries are a paraphrase (shared/catalogs/owasp/owasp_genai_top10.yaml); OWASP content is\n"
        "# CC BY-SA 4.0 (https://genai.owasp.org). This file is distributed under CC BY-SA 4.0.\n"
    )
    (OUT / "owasp_llm_2025.yaml").write_text(
        header + yaml.safe_dump({"items": items}, sort_keys=False, allow_unicode=True)
    )

    atlas = yaml.safe_load((args.catalogs / "mitre-atlas" / "ATLAS.yaml").read_text())
    matrix = atlas["matrices"][0]
    tactics = [{"id": t["id"], "name": t["name"]} for t in matrix["tactics"]]
    techniques = [
        {
            "id": t["id"],
            "name": t["name"],
            "tactics": list(t.get("tactics", [])),
            **({"parent": t["subtechnique-of"]} if "subtechnique-of" in t else {}),
        }
        for t in matrix["techniques"]
    ]
    header = (
        f"# MITRE ATLAS {atlas.get('version', '')}: tactic and technique ids and names.\n"
        "# Source: mitre-atlas/atlas-data dist/ATLAS.yaml. Copyright The MITRE Corporation, Apache-2.0.\n"
    )
    body = yaml.safe_dump(
        {"version": str(atlas.get("version", "")), "tactics": tactics, "techniques": techniques},
        sort_keys=False,
        allow_unicode=True,
    )
    (OUT / "mitre_atlas.yaml").write_text(header + body)
    print(f"wrote {len(items)} OWASP items, {len(tactics)} tactics, {len(techniques)} techniques to {OUT}")


if __name__ == "__main__":
    main()
