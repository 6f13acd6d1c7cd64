"""Put the result tables of real runs into README.md, so no number there is typed by hand.

    .venv/bin/python scripts/readme_tables.py demo=runs/demo/report.json membership=runs/membership/report.json
    .venv/bin/python scripts/readme_tables.py --check demo=runs/demo/report.json   # exit 1 if README differs

Each NAME=REPORT pair fills the README block between `<!-- tables:NAME -->` and `<!-- /tables:NAME -->`
with sections of that report as genleak renders them (report.md's own tables: the same code, the same
numbers), plus the run's date and the lab's memorisation line. Running it again on the same
report changes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

# Sections copied per scenario, by the start of their report.md heading, in this order.
SECTIONS = {
    "extraction": ("Fuzzy successes at T=", "Exact extractions at T=", "Positive control:", "Fuzzy successes: maximum",
                   "Exact extractions: maximum", "Untargeted PII leakage", "Real PII in the generated training data"),
    "membership": ("ROC-AUC [95% bootstrap CI]", "Positive control:"),
}


def render_block(report: dict) -> str:
    from genleak.report.controls import sanity_lines
    from genleak.report.markdown import render_any_markdown
    from genleak.report.membership import generation_sentences

    markdown = render_any_markdown(report)
    sections = _sections(markdown)
    wanted = SECTIONS[report["scenario"]]
    # One level below the README section that holds the block.
    picked = [re.sub(r"(?m)^## ", "#### ", body) for prefix in wanted for heading, body in sections
              if heading.startswith(prefix)]
    if not picked:
        raise SystemExit(f"no {', '.join(wanted)} section in the report of run {report.get('run')!r}")
    header = [f"Run `{report['run']}`, genleak {report.get('provenance', {}).get('genleak_version', '?')}, "
              f"{_finished(report)}."]
    memo = report.get("lab_memorization") or ""
    memo = memo.get("summary") if isinstance(memo, dict) else memo  # scenario B keeps the summary line only
    if memo:
        header.append(f"Lab, before any fine-tuning: {memo}.")
    header += generation_sentences(report.get("generation") or {})
    header += [line for line in sanity_lines(report) if line]
    return "\n\n".join(header) + "\n\n" + "\n\n".join(picked) + "\n"


def fill(readme: str, name: str, block: str) -> str:
    start, end = f"<!-- tables:{name} -->", f"<!-- /tables:{name} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README has no {start} ... {end} block")
    return pattern.sub(lambda _: f"{start}\n{block}{end}", readme, count=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="NAME=path/to/report.json")
    parser.add_argument("--readme", default=str(ROOT / "README.md"))
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if README would change")
    args = parser.parse_args(argv)
    path = Path(args.readme)
    before = path.read_text()
    after = before
    for pair in args.pairs:
        name, _, report_path = pair.partition("=")
        if not report_path:
            parser.error(f"expected NAME=REPORT, got {pair!r}")
        after = fill(after, name, render_block(json.loads(Path(report_path).read_text())))
    if args.check:
        print("README tables are up to date" if after == before else "README tables differ from the reports")
        return 0 if after == before else 1
    if after != before:
        path.write_text(after)
    print(f"README tables {'updated' if after != before else 'unchanged'}: {', '.join(args.pairs)}")
    return 0


def _sections(markdown: str) -> list[tuple[str, str]]:
    """(heading text, the section's markdown from its heading to the next) for every ## heading."""
    parts = re.split(r"(?m)^(?=## )", markdown)
    return [(part.splitlines()[0][3:], part.strip()) for part in parts if part.startswith("## ")]


def _finished(report: dict) -> str:
    provenance = report.get("provenance") or {}
    started, wall = provenance.get("started_at"), provenance.get("wall_seconds")
    if started is None:
        return "date not recorded"
    when = time.strftime("%Y-%m-%d", time.gmtime(float(started)))
    cpu = provenance.get("cpu", "").split(" (")[0]
    took = "" if wall is None else (f", {float(wall) / 60:.1f} min" if float(wall) >= 60 else
                                     f", {float(wall):.1f} s (a rerun: its stages were answered from the store)")
    return f"run on {when}{took}" + (f" on {cpu}" if cpu else "")


if __name__ == "__main__":
    sys.exit(main())
