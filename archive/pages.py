"""What one page is: the captures ``archive history`` lists, ``archive diff`` compares and the
``changes`` table diffs in time order.

A capture belongs to the page its canonical URL names, else to the URL it was captured at. Two
spellings of one address are one page: ``http`` and ``https``, the host in any case, with
``www.`` or without it, a default port written out or not, a fragment, and a slash at the end of
the path (a site that drops it from its canonical link between two captures did not move the
page). Nothing is stored for it: the few spellings of a page (at most eight) are looked up with
``IN`` lists, which the indexes on ``articles.url``, ``articles.canonical_url`` and
``changes.url`` serve.

``www.`` is folded as the Internet Archive's URL canonicaliser (the ``surt`` package) folds it,
but only ``www.`` itself, not ``www2.``: a mirror numbered so may serve other pages, and each
form folded must be one an ``IN`` list can spell out. A host that would be left with no dot
(``www.com``) keeps it.
"""

from __future__ import annotations

import json
import re
import urllib.parse

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_DEFAULT_PORT = {"http": 80, "https": 443}


def forms(url: str) -> list[str]:
    """The spellings of the page ``url`` names, ``url`` first; for a URL that is not http(s)
    (or not a URL), ``url`` alone."""
    return list(dict.fromkeys([url, *_spellings(url)]))


def key(url: str) -> str:
    """One spelling that stands for the page, the same for each of its spellings (to group
    captures by)."""
    spelled = _spellings(url)
    return spelled[0] if spelled else url


def _spellings(url: str) -> list[str]:
    """The page's spellings in a fixed order (https first, the path without its last slash
    first), none for what is not an http(s) URL."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[::1": not a URL
        return []
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return []
    host = parts.netloc.lower()
    if port == _DEFAULT_PORT[scheme]:
        host, port = host.rsplit(":", 1)[0], None
    # a port left stands for itself: not for the scheme whose default it is (http://x:443/a is
    # not https://x/a)
    schemes = [s for s in ("https", "http") if _DEFAULT_PORT[s] != port]
    user, at, host = host.rpartition("@")
    bare = host.removeprefix("www.")
    name = bare.rsplit(":", 1)[0].rstrip(".") if not bare.startswith("[") else ""
    last = name.rsplit(".", 1)[-1]
    # no www. form for a host with no dot left ("www.com", "localhost"), an IP address (its
    # last label a number, as browsers read it), or a host that is www. twice
    named = "." in name and not (last.isdigit() or last.startswith("0x"))
    hosts = (bare, f"www.{bare}") if named and not bare.startswith("www.") else (host,)
    path = parts.path.rstrip("/")
    return list(
        dict.fromkeys(
            urllib.parse.urlunsplit((s, f"{user}{at}{h}", p, parts.query, ""))
            for s in schemes
            for h in hosts
            for p in (path or "/", path + "/", path)  # a site's root: "/" and ""
        )
    )


def given(url: str) -> list[str]:
    """The spellings of the page a reader gave: ``forms``, and for an address given as an
    address bar shows it (``example.com/story``), those of its https URL too; for a URL that
    carries tracking parameters (``?utm_source=...``, as links shared on social media do),
    those of the URL without them too (what a page *is* does not change: only what a reader
    may type finds more)."""
    typed = with_scheme(url)
    clean = untracked(typed)
    return list(dict.fromkeys([url, *forms(typed), *(forms(clean) if clean != typed else [])]))


#: Query parameters that say only where a reader came from (campaign and click tracking).
_TRACKING = re.compile(
    r"(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|igshid|mc_cid|mc_eid)",
    re.IGNORECASE,
)


def untracked(url: str) -> str:
    """``url`` without its tracking parameters (``utm_*``, ``fbclid``, ``gclid`` and the like);
    ``url`` itself when it has none, or is not a URL."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    pairs = parts.query.split("&") if parts.query else []
    kept = [p for p in pairs if not _TRACKING.fullmatch(p.split("=", 1)[0])]
    return url if len(kept) == len(pairs) else parts._replace(query="&".join(kept)).geturl()


def given_json(url) -> str | None:
    """``given`` as a JSON array, for SQL (``archive_page_forms``: the canned queries read it
    with ``json_each``); NULL for anything but TEXT."""
    return json.dumps(given(url)) if isinstance(url, str) else None


def in_list(values: list) -> str:
    """``(?, ?, ...)``: an ``IN`` list's placeholders for ``values``."""
    return "(" + ", ".join("?" * len(values)) + ")"


def with_scheme(url: str) -> str:
    """``url``, given as an address bar shows it (``example.com/story``), with ``https://``."""
    return url if _SCHEME.match(url) else f"https://{url}"
