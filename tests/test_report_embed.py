"""Figures embedded in the report's HTML (lossatlas.report.embed)."""

from __future__ import annotations

import re

from handmade import curves_table

from lossatlas import figures
from lossatlas.report import embed

# --- figures in the report -----------------------------------------------------------------------


def test_svg_for_html_strips_the_prolog_and_keeps_ids_apart(tmp_path):
    fig, _, _ = figures.plot_test_rmse(curves_table())
    figures.save_svg(fig, tmp_path / "a.svg")
    svg = embed.svg_for_html((tmp_path / "a.svg").read_text(), "F7-")
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    assert ' style="' not in svg and 'stroke-linejoin="round"' in svg and "*{" not in svg  # the * rule: attributes
    sheet = re.search(r"<style>(.*?)</style>", svg).group(1)  # the class rules: scoped to this figure's root
    assert svg.startswith('<svg id="F7-svg"') and svg.count("<style") == 1
    selectors = re.findall(r"(?:^|\})([^{]+)\{", sheet)
    assert selectors and all(re.fullmatch(r"#F7-svg \.[a-z]+", s) for s in selectors)
    assert set(re.findall(r'class="([^"]+)"', svg)) <= {s.split(".")[1] for s in selectors}
    ids = set(re.findall(r'id="([^"]+)"', svg))
    assert ids and all(i.startswith("F7-") for i in ids)
    references = re.findall(r'href="#([^"]+)"', svg)
    assert references and set(references) <= ids
