"""report.html: one self-contained page from the report dict, both scenarios, built from fake outcomes
the way the other report tests build them. Checks: well-formed and self-contained (no script, no
external URL, images are PNG data URIs), the same table rows report.md has, escaping, masked PII only."""

from __future__ import annotations

import base64
import html
import re
from html.parser import HTMLParser

import pytest

from genleak.report import plots as report_plots
from genleak.report.build import build_report
from genleak.report.html import render_html
from genleak.report.markdown import render_markdown
from genleak.report.membership import plot_condition_rocs
from genleak.controller.spec import ExperimentSpec, load_spec_text
from report_fakes import MIA_SPEC, attack_result, mia_result, scan_result

EVIL = '<script>alert("x")</script>'
EVIL_URI = 's3://bucket/a?b=1&c="><img src=https://evil.example/x.png>'
RAW_EMAIL = "megan.chang@enron.com"
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[a-z]{2,}")
VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Page(HTMLParser):
    """Every start tag closed in order (void elements excepted); collects tags and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")


def _assert_self_contained(page: str, n_images: int) -> list[bytes]:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    # nothing fetched: no attribute points anywhere (URLs in the report are escaped text), no CSS url()
    assert not [v for _, attrs in parser.tags for v in attrs.values() if v and "://" in v]
    assert all("href" not in attrs for _, attrs in parser.tags) and "url(" not in page
    srcs = [attrs["src"] for tag, attrs in parser.tags if "src" in attrs]
    assert len(srcs) == n_images and all(s.startswith("data:image/png;base64,") for s in srcs)
    pngs = [base64.b64decode(s.split(",", 1)[1], validate=True) for s in srcs]
    assert all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    return pngs


def _assert_md_tables_in_html(md: str, page: str) -> int:
    """Every row of every table in report.md is a row of report.html, cell for cell."""
    flat = page.replace(' class="text"', "").replace("<th>", "<td>").replace("</th>", "</td>")
    rows = [line for line in md.splitlines() if line.startswith("| ") and line.endswith(" |")]
    for line in rows:
        cells = [c.strip("`") for c in line[2:-2].split(" | ")]
        assert "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" in flat, line
    return len(rows)


# ---- scenario A (same fakes as test_controller_spec) ----

def _attack(condition, epoch, counts):
    return attack_result(condition, epoch, counts, model=f"file:///store/{condition}/{epoch}",
                         outputs_uri=f"file:///store/out/{condition}-{epoch}", config_hash="c0ffee",
                         # per-target outputs hold raw e-mails: build_report must drop them, the page must never show them
                         rows=[{"target": RAW_EMAIL, "completion": RAW_EMAIL}])


def _scan(condition, real, not_in_ft, texts=None):
    # "examples" is not a report key: build_report drops it
    return scan_result(condition, real, not_in_ft, texts, masked=True, examples=[RAW_EMAIL])


@pytest.fixture(scope="module")
def extraction_report():
    spec = ExperimentSpec(attack={"templates": ["A"], "temperatures": [0.2, 1.0]}, finetune={"epochs": 2},
                          conditions=["base", "generated", "generated-scrubbed"])
    scrub = {"texts": 40, "texts_changed": 39, "replaced": {"EMAIL_ADDRESS": 85, "PERSON": 112},
             "distinct_values": {"EMAIL_ADDRESS": 32, "PERSON": 51}}
    outcome = {"attacks": [_attack("base", 0, (4, 2, 1)), _attack("generated", 1, (3, 1, 6)),
                           _attack("generated", 2, (5, 3, 2)), _attack("generated-scrubbed", 2, (2, 1, 1))],
               "stage_seconds": {"lab": 1.25, "attack[base]": 3.0}, "inputs": {"target": EVIL_URI},
               "leakage": [_scan("generated-scrubbed", 1, 1, texts=0), _scan("base", 3, 3),
                           _scan("generated", 5, 2, 85)],
               "generation": {"generated-scrubbed": {"task": "continuation", "stats": {"scrub": scrub}}}}
    provenance = {"genleak_version": "9.9.9", "python": "3.11.7", "machine": "x86_64", "spec_hash": spec.spec_hash(),
                  "started_at": 0.0, "wall_seconds": 12.5}
    report = build_report(spec, EVIL, outcome, provenance)
    # what service.py adds from the findings artifacts: masked values only
    report["leaked_values"] = {"generated": [{"type": "EMAIL_ADDRESS", "shown": "m***@e***.com", "value_id": "b2",
                                              "count": 1, "in_finetune": False, "revealed": False}]}
    return report


@pytest.fixture(scope="module")
def page(extraction_report):
    return render_html(extraction_report)


def test_extraction_page_is_self_contained_with_bar_and_line_plots(page):
    pngs = _assert_self_contained(page, n_images=2)  # bars (best per template x condition) + lines (vs temperature)
    assert len(set(pngs)) == 2
    assert "Content-Security-Policy" in page and "default-src &#x27;none&#x27;" not in page  # CSP is literal


def test_extraction_page_has_every_report_md_table_row(extraction_report, page):
    md = render_markdown(extraction_report)
    assert _assert_md_tables_in_html(md, page) >= 15  # best x2, per-temperature, leakage, values, training, stages
    # the numbers themselves (best over T x epoch, relative change, per temperature, leakage)
    assert "<tr><td>A</td><td>4 (T=0.2)</td><td>6 (T=1, ep 1)</td><td>2 (T=0.2, ep 2)</td><td>+50.0%</td>" in page
    assert "<tr><td>A</td><td>generated</td><td>5</td><td>2</td></tr>" in page  # last epoch (2), not best
    assert "<tr><td>base</td><td>EMAIL_ADDRESS</td><td>5 (4)</td><td>3 (3)</td><td>-</td><td>0.600</td></tr>" in page
    assert "39 of 40 prompts changed; spans replaced: EMAIL_ADDRESS 85, PERSON 112" in page


def test_extraction_page_provenance(extraction_report, page):
    prov = extraction_report["provenance"]
    for text in ("9.9.9", "3.11.7", "x86_64", prov["spec_hash"], "1970-01-01T00:00:00Z", "12.5",
                 "<td>attack[base]</td><td>3.0</td>", "<td>lab</td><td>1.2</td>",  # stage seconds, as report.md
                 "file:///store/generated/2", "file:///store/out/generated-2", "c0ffee",  # attacked checkpoints
                 "<td class=\"text\">finetune.seed</td><td>3407</td>", "<pre>", "templates:\n  - A"):
        assert text in page, text


def test_extraction_page_escapes_report_strings(page):
    assert "<script" not in page and "<img src=https" not in page
    assert html.escape(EVIL) in page  # title, heading and provenance show the run name as text
    assert html.escape(EVIL_URI) in page  # input URI as text, not markup
    assert page.count(f"<title>genleak report: {html.escape(EVIL)}</title>") == 1


def test_extraction_page_shows_masked_values_only(page):
    assert "m***@e***.com" in page and ">b2<" in page
    assert RAW_EMAIL not in page and not EMAIL_RE.search(page)  # no unmasked address anywhere


def test_page_without_matplotlib_keeps_the_tables(extraction_report, monkeypatch):
    def missing(*args, **kwargs):
        raise ImportError("matplotlib")

    monkeypatch.setattr(report_plots, "render_png", missing)
    page = render_html(extraction_report)
    _assert_self_contained(page, n_images=0)
    _assert_md_tables_in_html(render_markdown(extraction_report), page)


def test_extraction_page_without_base_has_no_relative_columns():
    spec = ExperimentSpec(attack={"templates": ["A"], "temperatures": [0.2, 1.0]}, conditions=["original"])
    outcome = {"attacks": [_attack("original", 1, (3, 1, 6))], "stage_seconds": {}, "inputs": {}}
    report = build_report(spec, "r", outcome, {})
    page = render_html(report)
    _assert_self_contained(page, n_images=2)
    assert _assert_md_tables_in_html(render_markdown(report), page) > 0 and "vs base" not in page


# ---- scenario B (same fakes as test_report_mia) ----

@pytest.fixture(scope="module")
def membership_report():
    spec = load_spec_text(MIA_SPEC)
    outcome = {"attacks": [mia_result("base", 0, 0.6), mia_result("generated", 1, 0.7),
                           mia_result("generated", 2, 0.9)],
               "stage_seconds": {"lab": 1.0}, "inputs": {"members": EVIL_URI},
               "generation": {"generated": {"task": "self_instruct", "stats": {"n_accepted": 12, "seconds": 3.5}}}}
    provenance = {"spec_hash": spec.spec_hash(), "wall_seconds": 2.0, "input_sha256": {"members": "ab" * 32}}
    return build_report(spec, EVIL, outcome, provenance)


@pytest.fixture(scope="module")
def roc_png(tmp_path_factory):
    curve = {"fpr": [0.0, 0.1, 1.0], "tpr": [0.0, 0.5, 1.0], "auc": 0.7}
    path = tmp_path_factory.mktemp("roc") / "roc.png"
    return plot_condition_rocs({"base": {"loss": curve}, "generated": {"loss": curve}}, path).read_bytes()


@pytest.fixture(scope="module")
def mia_page(membership_report, roc_png):
    return render_html(membership_report, {"roc.png": roc_png})


def test_membership_page_embeds_roc_and_epoch_plot(membership_report, roc_png, mia_page):
    page = mia_page
    pngs = _assert_self_contained(page, n_images=2)
    assert pngs[0] == roc_png  # the ROC figure travels as given; then AUC/perplexity vs epoch
    _assert_self_contained(render_html(membership_report), n_images=1)  # no roc.png given: epoch plot only


def test_membership_page_has_auc_ci_tpr_and_checkpoint_tables(membership_report, mia_page):
    page = mia_page
    md = render_markdown(membership_report, "roc.png")
    assert _assert_md_tables_in_html(md, page) >= 10  # AUC, TPR x2, checkpoints, stages
    assert ("<tr><td>loss</td><td>0.600 [0.550, 0.650]</td><td>0.900 [0.850, 0.950]</td><td>+50.0%</td></tr>"
            in page)
    assert "<th>generated (ep 2)</th>" in page
    assert "FPR resolution is 0.50%" in page  # 200 non-members cannot resolve 0.1% FPR
    assert "<tr><td>generated</td><td>1</td><td>41.00</td><td>0.700</td><td>0.700</td></tr>" in page
    assert "n_accepted=12, seconds=3.5" in page
    assert "roc-generated-2" in page and "m-generated-2" in page  # checkpoint artifacts in provenance
    assert f'<td class="text">{"ab" * 32}</td>' in page  # input manifest hash beside its URI


def test_membership_page_escapes_report_strings(mia_page):
    page = mia_page
    assert "<script" not in page and html.escape(EVIL) in page and html.escape(EVIL_URI) in page
    assert "scenario: membership" in page  # the spec as YAML
