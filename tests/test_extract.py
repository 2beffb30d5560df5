"""The article text extracted from small pages: the cases the real pages showed."""

from __future__ import annotations

from archive.extract import extract_article

from .test_robustness import FILLER, article_html


def test_a_paragraph_opening_with_more_is_article_text():
    """Paragraphs starting with "More" ("More than a third of WeWork's employees ...") were
    dropped as "More:" links: six real paragraphs, two of them leads (seventh round)."""
    lead = "More than a third of the company's 12,000 employees will lose their jobs, it said."
    page = article_html("Cuts", [lead, "More: the full story", *FILLER]).decode()
    text = extract_article(page, "https://news.example/cuts.html").text
    assert lead in text
    assert "the full story" not in text
