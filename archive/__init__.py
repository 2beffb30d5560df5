"""Offline archival and provenance for news articles.

WARC/WACZ captures go in; articles, claims and images come out, each with a content hash and an
Ed25519 signature over a canonical statement of where it came from; everything lands in SQLite and
is published read-only with Datasette.
"""

__version__ = "0.1.0"
