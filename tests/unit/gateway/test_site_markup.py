"""What the site shows of index values: escaping, highlight marks, links, summaries, charts, URLs."""

from __future__ import annotations

import re

import pytest

from paperwire_gateway.site import charts, markup
from paperwire_gateway.site.links import url
from paperwire_gateway.site.render import CSP, env


def test_highlights_keep_only_balanced_marks_and_escape_the_rest() -> None:
    assert markup.highlight("<em>time</em> <em>series</em>") == "<mark>time</mark> <mark>series</mark>"
    hostile = '<img src=x onerror=alert(1)> <em>img</em> <script>alert("x")</script>'
    got = str(markup.highlight(hostile))
    assert "<img" not in got and "<script" not in got
    assert got.startswith("&lt;img src=x onerror=alert(1)&gt; <mark>img</mark> &lt;script&gt;")
    # A literal mark in the text can neither nest nor stay open.
    assert markup.highlight("<em>a <em>b</em> c</em>") == "<mark>a b</mark> c"
    assert markup.highlight("open <em>never closed") == "open <mark>never closed</mark>"
    assert markup.highlight('"quoted" & <EM>upper</EM>') == "&#34;quoted&#34; &amp; &lt;EM&gt;upper&lt;/EM&gt;"


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,<b>",
        "/relative",
        "//host/x",
        "ftp://h/x",
        7,
        None,
    ],
)
def test_only_absolute_http_urls_become_links(raw: object) -> None:
    assert markup.safe_url(raw) is None


def test_http_urls_and_identifiers_make_links() -> None:
    assert markup.safe_url("https://github.com/a/b") == "https://github.com/a/b"
    assert markup.host_of("https://www.github.com/a/b") == "github.com"
    assert markup.arxiv_url("2401.00001") == "https://arxiv.org/abs/2401.00001"
    assert markup.arxiv_url("hep-th/9901001") == "https://arxiv.org/abs/hep-th/9901001"
    assert markup.doi_url("10.1000/x y") == "https://doi.org/10.1000/x%20y"
    assert markup.arxiv_url(None) is None and markup.doi_url("") is None


def test_summary_is_the_summary_else_the_first_sentence_cut_at_a_word() -> None:
    assert markup.summary_of({"summary": "Short.", "abstract": "Long. Longer."}) == "Short."
    assert markup.summary_of({"abstract": "We study X. Then Y."}) == "We study X."
    long = " ".join(["word"] * 100) + "."
    got = markup.summary_of({"abstract": long})
    assert got.endswith("…") and len(got) <= markup.SUMMARY_CHARS + 1 and "wor…" not in got
    assert markup.summary_of({}) == ""


def test_score_parts_are_counted_largest_first() -> None:
    parts = markup.made_of(
        {
            "view": {"count": 1, "score": 1.0},
            "upvote": {"count": 3, "score": 15.0},
            "prior": {"count": 1, "score": 4.0},
            "star": {"count": 0, "score": 0.0},
        }
    )
    assert [p["words"] for p in parts] == ["3 upvotes", "new-paper bonus", "1 view"]
    assert abs(sum(p["share"] for p in parts) - 1.0) < 1e-9


def test_charts_escape_their_names_and_scale_their_bars() -> None:
    svg = str(charts.arrivals([0, 2, 4], label='<script>"x"</script>: '))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"/>', svg)]
    assert heights[2] > heights[1] > heights[0] and 'class="bar recent"' in svg
    assert charts.arrivals([]) == ""
    parts = str(
        charts.score_parts(
            {
                "24h": {"score": 10.0, "breakdown": {"upvote": {"count": 2, "score": 10.0}}},
                "7d": {"score": 20.0, "breakdown": {"upvote": {"count": 2, "score": 15.0}, "x<y": {"score": 5.0}}},
            }
        )
    )
    widths = [float(w) for w in re.findall(r'<rect class="part [^"]+" x="[\d.]+" y="\d+" width="([\d.]+)"', parts)]
    assert widths[0] == pytest.approx(widths[1] * 10 / 15) and "x&lt;y" in parts and "x<y" not in parts
    assert "24h: score 10.0 (2 upvotes 10.0)" in parts


def test_urls_leave_empty_parameters_out() -> None:
    assert url("/search", q="a b", mode=None, topic="", has_code=False) == "/search?q=a+b&has_code=false"
    assert url("/", {"window": "7d"}, window=None) == "/"


def test_templates_autoescape_and_the_policy_forbids_inline_code() -> None:
    assert env.autoescape is True
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP and "frame-ancestors 'none'" in CSP
    assert "style-src 'self'" in CSP
