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


def test_a_sentence_opening_with_posted_or_updated_is_a_claim():
    """The time-stamp rule dropped "Posted on social media by the analysts at Digital Foundry,
    ..." (a real page's sentence, seventh round's review)."""
    from archive.claims import _is_claim_text

    for furniture in (
        "Updated Tuesday, March 3, 2025",
        "Updated Wed., March 5, 2025 at 3:10 p.m.",
        "Updated an hour ago",
        "Updated at 1:23 p.m.",
        "Posted by Ann Lee",
        "Published: 5 March 2025",
        "Posted on November 19, 2019",
        "Updated Nov. 19, 2019 at 5:45 AM",
    ):
        assert not _is_claim_text(furniture), furniture
    for sentence in (
        "Posted on social media by the analysts at Digital Foundry, the port runs at 1080p.",
        "Updated figures show that inflation rose to four percent in March.",
        "Published reports say the harbour will stay open through the summer.",
    ):
        assert _is_claim_text(sentence), sentence


def test_short_link_labels_go_and_sentences_that_open_with_the_word_stay():
    """The "More" fix first kept every label without a colon ("Related stories", "Watch the
    full interview"): a short line with no sentence end and no quotation is a label."""
    from archive.extract import _is_pointer

    for label in ("Related stories", "Recommended for you", "Related", "More stories",
                  "Listen to this article", "Watch the full interview", "More from the newsroom",
                  "Related: Ferry fares rise", "Read more about the harbour"):  # fmt: skip
        assert _is_pointer(label), label
    for text in ("More than a third of the staff will lose their jobs.",
                 "More “Questions” for your opponent", "More and more people take the ferry",
                 "Recommended doses fell sharply last year, the agency said."):  # fmt: skip
        assert not _is_pointer(text), text


def test_markup_after_the_closing_html_tag_is_read_as_part_of_the_page():
    """Scripts and tags appended after </html> (trackers do) become a second top-level element
    beside the root: a one-pass walk of the root missed the JSON-LD, canonical link and
    <meta> there, which the XPath walks it replaced had read (found in review)."""
    from archive.extract import extract_article

    said = "The council voted on Tuesday to raise the water budget by ten percent, the mayor said."
    one = f"<p>{' '.join([said] * 4)}</p>"
    marked_after = (
        f"<html><body>{one}</body></html>"
        '<script type="application/ld+json">{"@type": "NewsArticle"}</script>'
    )
    # a single paragraph is an article only where the page says so: here, after </html>
    assert extract_article(marked_after, "https://n.example/a") is not None
    assert extract_article(f"<html><body>{one}</body></html>", "https://n.example/a") is None
    six = "".join(f"<p>{said} Part {i}.</p>" for i in range(6))
    trailing = (
        f"<html><head><title>T</title></head><body>{six}</body></html>"
        '<link rel="canonical" href="https://c.example/x">'
        '<meta property="og:title" content="Trailing Title">'
    )
    article = extract_article(trailing, "https://n.example/a")
    assert (article.canonical_url, article.title) == ("https://c.example/x", "Trailing Title")
