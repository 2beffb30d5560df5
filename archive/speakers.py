"""Who said it: direct quotes, speech cues and speaker resolution within one article.

Rules, not a model: they run offline at ingest speed and every decision can be explained. A
surname or a description ("the resistance leader") resolves to the full name the article uses
most, so "Massoud" is Ahmad Massoud in an article about him, never his father Ahmad Shah Massoud
who shares the surname; names inside quotations do not count as mentions.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass

from . import first_names
from .quotation_marks import is_direct_quote, quoted_spans, strip_quotes
from .speech_words import (
    COUNTRY_INITIALS,
    CUES,
    HEADLINE_WORDS,
    INNER_TITLES,
    LEADING,
    PARTICIPLES,
    ROLE_NOUNS,
    STOP_START,
    SUFFIXES,
    TITLES,
    UNNAMED,
)

# A capitalised word, an initial ("J.") or initials ("U.S."), or a title with its period ("Mr.
# Trump", "Rep. Brian Babin": the name ended at the period, and "Mr" spoke); a period elsewhere
# ends the name, not the sentence.
_WORD = (
    r"(?:[A-Z]\.(?:[A-Z]\.)*|(?:Jr|Sr|Mrs?|Ms|Dr|Rep|Sen|Gov|Gen|Lt|Col|Sgt|Capt|Prof|Supt)\.|"
    r"[A-Z][\w'’\-]*)"
)
_CAP = rf"(?:{_WORD}|(?:al|bin|ibn|de|da|van|von|der|del|la|le)\b)"
# A proper-noun phrase: capitalised words (with name particles), starting with a capital. At
# most twelve words: unbounded, a long run of capitalised words took time in the square of its
# length (every start position matched to its end: 4 s for "Elena Varga " * 2000).
NAME = rf"{_WORD}(?:[ \t]+{_CAP}){{0,11}}"
# Whole words only: without \b, "an spokesman" matched inside "Taliban spokesman" (and "he"
# inside "the"), giving the sentence a described speaker it does not have.
_PRONOUN = r"\b(?:[Hh]e|[Ss]he|[Tt]hey|[Ii]t)\b"
# (capitalised words too: "a WeWork spokesperson", "the White House spokeswoman", whose
# organisation speaks: _SPEAKS_FOR)
_DESC = rf"\b(?:[Tt]he|[Aa]n?)\s+(?:[a-z\-]+\s+|[A-Z][\w&’'.\-]*\s+){{0,3}}(?:{ROLE_NOUNS})\b"
_ROLE_WORDS = frozenset(ROLE_NOUNS.split("|"))
#: Someone unnamed who speaks for a named organisation: the organisation is the speaker.
_SPEAKS_FOR = re.compile(
    r"(?:(?:[Tt]he|[Aa]n?)\s+)?((?:[A-Z][\w&’'.\-]*\s+){1,4})(?:spokesperson|spokesman|"
    r"spokeswoman|spokespeople|representative)$"
)
SUBJECT = rf"(?:{NAME}|{_PRONOUN}|{_DESC})"

_ACCORDING = re.compile(rf"\baccording to\s+({SUBJECT})")
#: A name right after "in" or "at" names where the speaker is ("officials in Washington said"),
#: not who spoke.
_PLACE_BEFORE = re.compile(r"\b(?:in|at)\s+$")
_LY_NOT_ADVERBS = (
    r"(?:family|ally|rally|assembly|daily|weekly|monthly|quarterly|yearly|supply|only|early|"
    r"likely|elderly|friendly|lonely|nightly|hourly)"
)
_SUBJ_CUE = re.compile(
    rf"({SUBJECT})(?:(?:,[^,]{{1,100}}){{1,2}},)?"
    # "Paganini and his team wrote": the one named speaks for them
    r"(?:\s+and\s+(?:his|her|their)\s+(?:team|colleagues|co-?authors|co-?workers))?"
    rf"\s+(?:has\s+|had\s+|have\s+|also\s+|later\s+|then\s+|"
    # an adverb: "reportedly", "allegedly" (not a noun or an adjective: "the Smith family said",
    # "the Tehran daily reported")
    rf"has also\s+|had also\s+|once\s+|(?!{_LY_NOT_ADVERBS}\s)[a-z]+ly\s+)*"
    rf"({CUES})\b"
)
# A full name, then a description that runs on to the cue with no comma to close it:
# "Kurinji Selvaraj, a research analyst at the Council on Energy, Environment and Water think
# tank told CBS News" (its own commas kept _SUBJ_CUE from reading it).
# Only as the sentence's subject (its start, or after the quotation), and not a description
# with a clause of its own ("Acme Corp, a company the plaintiffs say misled ...", "Elena
# Varga, the historian who wrote ...": a review).
_APPOSITIVE_CUE = re.compile(
    rf"[\W_]*({_WORD}(?:[ \t]+{_CAP}){{1,3}}),\s+(?:a|an|the)\s+"
    r"(?:(?!\b(?:who|whom|whose|which|that|where|when)\b)[^.;:!?“”\"]){1,160}?"
    rf"\s+({CUES})\b"
)


def _by_first_letter(words: str) -> str:
    """``words`` ("said|says|...") as an alternation grouped by first letter ("s(?:aid|ays)|..."):
    Python's re tries an alternation's branches one by one, so a letter that starts no word is
    rejected once, not once per word."""
    groups: dict[str, list[str]] = {}
    for word in words.split("|"):
        groups.setdefault(word[0], []).append(word[1:])
    return "|".join(f"{first}(?:{'|'.join(rests)})" for first, rests in groups.items())


# A cue word after a space, which every _SUBJ_CUE match has: most sentences have none, and
# this finds that ~10 x faster than _SUBJ_CUE's subject pattern tried at every position.
_CUE_WORD = re.compile(rf"\s(?:{_by_first_letter(CUES)})\b")
# Cue words that also take a plain object or are nouns: "X added three assists", "reported a
# loss", "maintains its own monitor", "posted an elite grade", "U.S. states where ..."
_OBJECT_CUES = frozenset(
    "added adds reported reports maintains maintained states notes claims estimates "
    "promises".split()
)
# Cue words only in a sentence that quotes, and with no object: "had written a will" and
# "has written a memoir called “...”" report no words, "“...,” X has written" does.
_QUOTED_ONLY = frozenset({"written"})
_WRITTEN_OBJECT = re.compile(r"\s+(?:a|an|the|his|her|its|their|about|several|many|\d)\b")
_OBJECT_AFTER = re.compile(
    r"\s+(?:a|an|his|her|its|their|one|two|three|four|five|six|seven|where|of|are|"
    r"earnings|details|significantly|to\s+(?:his|her|its|their)|\$?\d)\b"
)
# ("comments" only here, and only after a quotation that ends in a comma: “...,” comments
# Robin Biesbroek; the “deeply offensive” comments Trump made are a noun)
_AFTER_COMMA_ONLY = frozenset({"comments"})
_CUE_SUBJ_CUES = "|".join(
    [c for c in CUES.split("|") if c not in ("told", "tells", "tell")] + [*_AFTER_COMMA_ONLY]
)
# (not a day or a date: "..., said Tuesday at the conference")
_NOT_A_DATE = (
    r"(?!(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b(?![ \t]+[A-Z])|"  # not "Sunday Times"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d)"
)
_CUE_SUBJ = re.compile(rf"[,”\"»]\s*({_CUE_SUBJ_CUES})\s+{_NOT_A_DATE}({NAME}|{_DESC})")
# A full name after a cue and a lower-case description: "said planetary geologist Rosaly
# Lopes", "wrote 43-year-old Martin Taylor" (a review: no speaker for these). Not a word that
# opens something else ("said on Monday", "said that Ann Lee"), a verb's -ing ("lawyers
# representing Elena Varga", "residents fleeing New York": the name is who is spoken of), or
# a plural just before the name ("said fans Ann Lee and ..."): a review of the first version.
_LOWER_WORD = (
    r"(?!(?:on|in|at|of|to|for|from|with|by|about|after|before|during|last|this|next|"
    r"earlier|later|then|that|and|but|or|as|while|when|because|today|yesterday|tonight|"
    r"recently|previously|also|once|again|here|there|outside|inside|near|across|around|"
    r"behind|beyond|among|between|under|over|against|without|within|into|onto|toward|towards|"
    r"via|per|through|throughout|like|unlike|including|along|beside|besides|amid|upon)\b)"
    r"(?![a-z\d'’\-]*ing\b)[a-z\d][\w'’\-]*"
)
_SINGULAR_LAST = r"(?<![^s]s)(?<!['’]s)"  # the word before the name: not a plural
_CUE_DESCRIBED = re.compile(
    rf"[,”\"»]\s*({_CUE_SUBJ_CUES})\s+(?:{_LOWER_WORD}\s+){{0,3}}{_LOWER_WORD}{_SINGULAR_LAST}"
    rf"\s+({_WORD}(?:[ \t]+{_CAP}){{1,3}})"
)
_PARTICIPLE = re.compile(rf",\s+(?:\w+ly\s+)?({PARTICIPLES})\b")


def surname(name: str) -> str:
    # (a king's number is no surname: "King Felipe VI" is Felipe's when "Felipe" is written)
    words = [w for w in name.split() if w.lower() not in SUFFIXES and not _REGNAL.fullmatch(w)]
    return (words or name.split())[-1]


_ROLE_COMPOUND = re.compile(r"[A-Z][a-z]+(?:-[a-z]+)+")  # "Singer-guitarists", "Co-founder"


def _strip_lead(words: list[str], keep: frozenset = frozenset()) -> list[str]:
    """A name's words without the sentence-opening words before it ("As Emily Feng"), or a
    role written as one hyphenated word ("Singer-guitarists Tom Johnston", "Co-founder Ann
    Lee": a name's own hyphen has a capital after it), unless the article also writes the two
    first words inside a sentence (``keep``): "Under Armour", "Do Kwon" and "One Nation" are
    names."""
    while (
        len(words) > 1
        and (words[0].lower() in LEADING or _ROLE_COMPOUND.fullmatch(words[0]))
        and not words[0].isupper()
        and words[1][:1].isupper()
        and (words[0], words[1]) not in keep
    ):
        words = words[1:]
    return words


def _title_case(text: str) -> bool:
    """A headline written in title case ("What Trump Can and Cannot Do About Tariffs"): most of
    its longer words capitalised, as a sentence's are not."""
    longer = _LONGER_WORD.findall(text)
    return len(longer) >= 3 and sum(w[0].isupper() for w in longer) >= 0.7 * len(longer)


# A word of more than three characters: a letter, then three or more of these. (A word with
# fewer has no later letter that starts a longer one: the same words as finding every word and
# keeping the longer ones, without building the others.)
_LONGER_WORD = re.compile(r"[^\W\d_][\w'’\-]{3,}")
_NAME = re.compile(NAME)
_NAME_AT_WORD = re.compile(rf"\b{NAME}")
# A possessive ending: as ``['’]s$`` on text without a newline (before which "$" also matches).
_POSSESSIVE = ("'s", "’s")
# After "X's": a relative, then their name ("'s son, filmmaker Charlie"; not "'s clients
# include Boeing")
_RELATIVE_NEXT = re.compile(
    r"(?:\s+(?:former|late|eldest|youngest|older|younger|longtime|new))?\s+(?:son|daughter|wife|"
    r"husband|mother|father|brother|sister|partner|spouse|fianc[ée]e?|boyfriend|girlfriend|"
    r"friend|colleague|boss|lawyer|attorney|aide|adviser|advisor|manager|agent|deputy|"
    r"spokes(?:man|woman|person))(?:,?\s+[a-z][\w\-]*){0,2},?\s+[A-Z]"
)
_DESCRIPTION = re.compile(r"(the|an?)\s")
_LEADER = re.compile(r"leader|spokes|commander|president|minister")
_THE = re.compile(r"^the\s+", re.I)
#: A body described by a proper adjective or name and what it is: "the French foreign
#: ministry", "the Russian defence ministry", "the US military" (bodies as printed, without the
#: article, as the gold README has them); not a person described ("the French minister").
_NAMED_BODY = re.compile(
    r"(?:[Tt]he\s+)((?:[A-Z][\w.\-’']*\s+){1,3}(?:[a-z\-]+\s+){0,2}"
    r"(?:ministry|department|office|agency|government|military|army|police|embassy|"
    r"authority|administration|council|commission))"
)


def _is_description(mention: str) -> bool:
    """Whether a mention describes its speaker instead of naming them: "the statement", "an
    airport official" (not "the Taliban", whose last word is a name's), "Pentagon official"
    (what is left of "a Pentagon official": a review)."""
    words = mention.split()
    if len(words) > 1 and words[-1] in _ROLE_WORDS:
        return True
    return bool(_DESCRIPTION.match(mention.lower())) and not words[-1][:1].isupper()


def _names_in(texts: list[str]):
    """(text index, words, inside) for every name phrase of ``texts`` outside quotations;
    ``inside``: written inside a sentence (after a word or a comma, not at a sentence's start),
    where a capital says it is a name."""
    for i, text in enumerate(texts):
        text = strip_quotes(text)
        for m in _NAME_AT_WORD.finditer(text):
            j = m.start() - 1
            while j >= 0 and text[j].isspace():
                j -= 1
            yield i, m.group().split(), j >= 0 and (text[j].isalnum() or text[j] == ",")


@dataclass
class Attribution:
    speaker: str | None = None
    speaker_mention: str | None = None
    cue: str | None = None
    quote: str | None = None
    is_direct: bool = False


def _clean_mention(mention: str, keep: frozenset = frozenset()) -> str:
    mention = mention.strip(" ,")
    words = mention.split()
    # "Now his son, Ahmad Massoud" style leftovers: keep the proper-noun tail.
    while len(words) > 1 and words[0].lower() in STOP_START and words[1][:1].isupper():
        if words[0].lower() == "the":
            break
        words = words[1:]
    return " ".join(_strip_lead(words, keep))


class SpeakerResolver:
    """Knows the people an article names, and resolves partial mentions to them."""

    def __init__(self, texts: list[str]):
        counts: Counter[str] = Counter()
        first_seen: dict[str, int] = {}
        self._titled: set[str] = set()  # surnames a title introduced: people
        found = list(_names_in(texts))
        headline = [_title_case(t) for t in texts]
        # the first two words of names written inside a sentence: "Under Armour" is a name
        self._keep = frozenset((w[0], w[1]) for _, w, inside in found if inside and len(w) > 1)
        # words the article capitalises where no sentence opens: names, not "Sources" or "Others"
        self._inside = frozenset(w for _, ws, inside in found for w in ws[0 if inside else 1 :])
        for i, words, _ in found:
            words = _strip_lead(words, self._keep)
            # Headlines in title case: "Who Is Elena Varga" names Elena Varga
            while len(words) > 2 and words[0].lower() in HEADLINE_WORDS:
                words = words[1:]
            # ... and "Elena Varga Is Refusing" too; "Republicans Are Following Trump" and
            # "Trump Can (and Cannot Do...)" name no one (each stood for every "Trump" of its
            # page). In a sentence, a name may end in such a word: George Will, Anh Do, Emre Can.
            last = len(words) if headline[i] else len(words) - 1
            cut = next(
                (k for k, w in enumerate(words[:last]) if k and w.lower() in HEADLINE_WORDS),
                None,
            )
            words = words[:cut]
            name = self.strip_title(" ".join(words))
            # a surname after a title is a person's too ("President Trump": "Trump sent ...",
            # then "he said", is Trump's, not the next name's)
            titled = (
                len(words) == 2
                and name == words[1]
                and len(name) > 1
                and name[:1].isupper()
                and name.lower().rstrip(".") not in TITLES  # "the Prime Minister": no one
            )
            if titled:
                self._titled.add(name)
            if (len(name.split()) >= 2 or titled) and name.split()[0].lower() not in STOP_START:
                counts[name] += 1
                first_seen.setdefault(name, i)
        self.counts = counts
        self.first_seen = first_seen
        # one-word mentions ("Varga", "Elena") by the names they may stand for
        self._by_word: dict[str, list[str]] = {}
        for n in counts:
            for word in {surname(n), n.split()[0]}:
                self._by_word.setdefault(word, []).append(n)
        self.last_person: str | None = None
        self.last_subject: str | None = None
        self.last_org: str | None = None
        #: the people the article named or quoted last, the latest last: for "she" when the
        #: last one is a man
        self._recent: list[str] = []

    def _remember(self, name: str) -> str:
        """``name``, now the latest of the people named (``_recent``)."""
        if name in self._recent:
            self._recent.remove(name)
        self._recent = [*self._recent[-5:], name]
        return name

    def _pronoun(self, mention: str) -> str:
        """Who "he" or "she" stands for: the last subject, else the last person quoted, else the
        article's main person, passing over any whose first name says the other gender (then
        the people named before them, latest first)."""
        other = "m" if mention.lower() == "she" else "f"
        for name in (self.last_subject, self.last_person, *reversed(self._recent)):
            if name is not None and first_names.gender(name) != other:
                return name
        salient = self.most_salient()  # a pass over every name: only when no one nearer will do
        if salient is not None and first_names.gender(salient) != other:
            return salient
        # every one of the other gender (or the lists wrong about one): as before they were kept
        return self.last_subject or self.last_person or salient or mention

    def observe(self, sentence: str) -> None:
        """Remember the first known person a sentence names (outside quotes): "he" in the next.
        Not one named as whose relative comes next ("Steenburgen's son, filmmaker Charlie
        McDowell, ..." is about McDowell; "Swift's first six albums ..." still about Swift)."""
        text = strip_quotes(sentence)
        whose = None
        for m in _NAME.finditer(text):
            name = self.resolve(" ".join(_strip_lead(m.group().split(), self._keep)))
            if name not in self.counts:
                continue
            if whose is None and m.group().endswith(_POSSESSIVE):
                if _RELATIVE_NEXT.match(text, m.end()):
                    whose = name
                    self._remember(name)  # "Kardashian's husband, West": she is still near
                    continue
            elif whose is not None and _looks_like_org(name):
                name = whose  # "Trump's trade war, Farm Bureau ...": no relative of his
            self.last_subject = self._remember(name)
            return
        if whose is not None:
            self.last_subject = self._remember(whose)

    @staticmethod
    @functools.lru_cache(maxsize=4096)  # pure, and three calls in four repeat a mention
    def strip_title(mention: str) -> str:
        words = mention.split()
        if len(words) > 2 and words[0] in COUNTRY_INITIALS and words[1].lower() in TITLES:
            words = words[1:]  # "U.S. Sen. Ted Cruz": the country of a title, not a name
        while (
            len(words) > 1
            and words[0].lower().rstrip(",") in TITLES
            # "Interior Ministry", "Defense Department": a title word naming the organisation
            and not (len(words) == 2 and _ORG_WORDS.fullmatch(words[1]))
            # "Prince Andrew", "Queen Elizabeth II": a royal with no surname is named with
            # the title ("Andrew" alone is no one's name)
            and not (
                words[0] in _ROYAL and len([w for w in words[1:] if not _REGNAL.fullmatch(w)]) == 1
            )
            or (
                len(words) > 2 and words[0] == "State"  # "Secretary of State Mike Pompeo"
            )
        ):
            words = words[1:]
        # "NASA's Steve Clarke": the possessive is the organisation, the name follows it
        for i in range(len(words) - 2, -1, -1):
            if words[i].endswith(_POSSESSIVE) and len(words) - i - 1 >= 2:
                words = words[i + 1 :]
                break
        for i in range(len(words) - 3, -1, -1):
            if words[i].lower().rstrip(",") in INNER_TITLES:
                words = words[i + 1 :]
                break
        name = " ".join(words)
        if name.endswith(_POSSESSIVE):  # "Michelle Hege’s response"
            name = name[:-2]
        return name if name.split()[-1].lower() in SUFFIXES else name.rstrip(".,")

    def most_salient(self) -> str | None:
        people = [n for n in self.counts if not n.lower().startswith("the ")]
        return max(people, key=lambda n: (self.counts[n], -self.first_seen[n]), default=None)

    def resolve(self, mention: str) -> str | None:
        mention = _clean_mention(mention, self._keep)
        lower = mention.lower()
        if lower in ("he", "she"):
            return self._pronoun(mention)
        if org := _SPEAKS_FOR.fullmatch(mention):  # "a WeWork spokesperson": WeWork speaks
            name = self.resolve(org.group(1).strip())
            # a person's spokesman is not that person ("a Trump spokesman")
            if name and not (first_names.gender(name) or name in self._titled):
                return name
        if body := _NAMED_BODY.fullmatch(mention):  # "the French foreign ministry"
            return body.group(1)
        if _is_description(mention):
            # a description: "the resistance leader" -> the article's main person
            if _LEADER.search(lower):
                return self.last_person or self.most_salient() or mention
            # anyone else described is no one named: "the statement said", "the agency said"
            # were speakers of their own, one "The agency" pooled across four articles and
            # outlets (a review); the claim keeps the words (speaker_mention) and its cue
            return None
        if lower in ("it", "they"):
            # an organisation spoken of as "it": the last one the article quoted, if any
            return self.last_org
        bare = _THE.sub("", mention)
        if bare.isupper() and 2 <= len(bare) <= 6 and (full := self._expand(bare)):
            return full
        name = self.strip_title(mention)
        words = name.split()
        if len(words) == 1 and name.isupper() and len(name) > 1:
            # an acronym stands for an organisation, not for a longer name it opens: "VW" is
            # not "VW Atlas Cross Sport SUV", the car the article reviews
            candidates = []
        elif len(words) == 1:
            candidates = self._by_word.get(name, [])
        else:
            # "Eriksson Ek" -> "Joel Eriksson Ek": the longer name the article introduced
            candidates = [n for n in self.counts if n.endswith(" " + name)]
        if candidates:
            return max(candidates, key=lambda n: (self.counts[n], -self.first_seen[n]))
        return name

    def _common_word(self, mention: str) -> bool:
        """One capitalised word for people left unnamed, or a note ("Sources told CNN",
        "Officials said", "Correction added"), that the article capitalises nowhere else and
        no name of it has: not who spoke. (A word the article also writes in lower case was
        taken for one too, and "Police said" beside "police officers" lost its speaker: a
        review.)"""
        return (
            " " not in mention
            and mention.lower() in UNNAMED
            and mention not in self._inside
            and mention not in self._by_word
        )

    def _expand(self, acronym: str) -> str | None:
        """The name an acronym stands for ("CDC" -> "... Center for Disease Control ...")."""
        for name in sorted(self.counts, key=lambda n: -self.counts[n]):
            initials = "".join(w[0] for w in name.split() if w[:1].isupper())
            if acronym in initials and len(name.split()) >= len(acronym):
                return name
        return None

    def attribute(self, sentence: str, context_subject: str | None = None) -> Attribution:
        """Find a direct quote, a speech cue and its speaker in one sentence."""
        att = Attribution()
        spans = quoted_spans(sentence)
        # a dateline is not the subject: "BUFFALO, N.Y. — ..., Wild coach Bruce Boudreau ..."
        outside = _DATELINE.sub("", strip_quotes(sentence), count=1)
        mention = cue = None
        # (each search only where its fixed words are: the patterns are slow to fail)
        m = _ACCORDING.search(outside) if "according to" in outside else None
        if m:
            mention, cue = m.group(1), "according to"
        else:
            m = (_CUE_SUBJ.search(sentence) or _CUE_DESCRIBED.search(sentence)) if spans else None
            if (
                m
                and m.group(1) in _AFTER_COMMA_ONLY
                and "," not in sentence[max(m.start() - 1, 0) : m.end(1)]
            ):
                m = None  # the “un-American” comments Trump made: a noun, not the cue
            if m:
                cue, mention = m.group(1), m.group(2)
            else:
                m = _SUBJ_CUE.search(outside) if _CUE_WORD.search(outside) else None
                if m and (
                    (m.group(2) in _OBJECT_CUES and _OBJECT_AFTER.match(outside, m.end(2)))
                    or (
                        m.group(2) in _QUOTED_ONLY
                        and (not spans or _WRITTEN_OBJECT.match(outside, m.end(2)))
                    )
                ):
                    m = None  # "added three assists", "reported a loss": no speech here
                    mention = cue = None
                elif m and _PLACE_BEFORE.search(outside, 0, m.start(1)):
                    # "the harbour authority in Lakeport said": a place, not who spoke; a full
                    # name beside it is ("in May, Zippy Duvall, the head of..., said"; "Dylan
                    # Nelson of the Max Planck Institute in Munich said")
                    subject = _full_name(outside[m.end(1) : m.start(2)]) or _full_name(
                        outside[: m.start(1)]
                    )
                    if subject:
                        mention, cue = subject, m.group(2)
                    else:
                        m = None
                        mention = cue = None
                elif m:
                    mention, cue = m.group(1), m.group(2)
                    # "the Department of Energy announced": the organisation, not "Energy"
                    if org := _ORG_OF.search(outside, 0, m.start(1)):
                        mention = org.group(1) + mention
                if m is None and spans:
                    m = _APPOSITIVE_CUE.match(outside)
                    if m:
                        mention, cue = m.group(1), m.group(2)
                if m is None:
                    m = _PARTICIPLE.search(outside)
                    if m:
                        cue = m.group(1)
                        mention = _sentence_subject(outside[: m.start()]) or context_subject
        if mention and cue:
            mention = _clean_mention(mention, self._keep)
            if mention.lower() in ("it", "they") and not spans:
                mention = None
            elif mention.lower() in LEADING and not (mention.isupper() and len(mention) > 1):
                mention = None
            elif self._common_word(mention):
                mention = None
        if mention and cue:
            att.speaker_mention = mention
            att.cue = cue
            att.speaker = self.resolve(mention)
            if att.speaker is None:
                if not _is_description(mention):
                    att.speaker_mention = att.cue = None
            elif _looks_like_org(att.speaker):
                self.last_org = att.speaker
            else:
                self.last_person = self._remember(att.speaker)
        whole = len(spans) == 1 and not re.sub(r"[\W_]+", "", outside)
        direct = [s.strip() for s in spans if whole or is_direct_quote(s, has_cue=bool(att.cue))]
        if direct:
            att.is_direct = True
            att.quote = " … ".join(direct)
        return att


_ROYAL = frozenset("King Queen Prince Princess Pope Emperor Empress".split())
#: A regnal number: "II", "VI", "XIV", "V" (not "X" alone: Malcolm X's surname)
_REGNAL = re.compile(r"(?=[IVX]{2}|V)X{0,3}(?:IX|IV|V?I{0,3})")

_ORG_WORDS = re.compile(
    r"\b(?:ministry|department|office|authority|agency|company|group|forces|council|party|"
    r"center|centre|organi[sz]ation|university|police|army|military|government|inc|ltd|corp|"
    r"committee|commission|court|club|union|bank|association|institute|records|productions|"
    r"bureau|foundation|federation)\b",
    re.I,
)


#: An organisation's name up to its "of" or "for", just before a name: "Department of "
#: (Energy), "Office of " (Emergency Services), "Centre for " (Economic Policy Research). A
#: name runs to no lower-case word, so it stopped there.
_ORG_OF = re.compile(
    r"\b((?:Department|Ministry|Office|Bureau|Board|University|Institute|Bank|Council|"
    r"Commission|Court|Agency|Academy|Administration|Association|Federation|Chamber|Embassy|"
    r"Museum|College|League|Union|Centre|Center|Coalition|Foundation)[ \t]+(?:of|for)[ \t]+)$"
)


def _looks_like_org(name: str) -> bool:
    return name.lower().startswith("the ") or name.isupper() or bool(_ORG_WORDS.search(name))


#: A dateline opening a story: "BUFFALO, N.Y. — ", "KABUL (Reuters) - ", or a bare "WASHINGTON
#: — " before a sentence's capital ("NASA — in a statement — delayed" is a subject and an
#: aside, not a dateline).
_DATELINE = re.compile(
    r"^[A-Z][A-Z.'\- ]{2,}"
    r"(?:,\s[^—–\-(]{1,30}?(?:\s*\([^)]{1,30}\))?\s*[—–\-]+\s|\s*\([^)]{1,30}\)\s*[—–\-]+\s"
    r"|\s*[—–\-]+\s(?=[A-Z\"“]))"
)


def _sentence_subject(text: str) -> str | None:
    """The first proper name of a sentence ("Now his son, Ahmad Massoud, ..." -> Ahmad Massoud)."""
    for m in _NAME.finditer(text):
        words = m.group().split()
        # (nor a sentence's opening word: "After the hearing, Hawk Sawyer ..., saying"; nor
        # an owner: "some of Trump's defenders took to social media, claiming")
        if len(words) == 1 and (words[0].lower() in STOP_START or words[0].lower() in LEADING):
            continue
        if m.group().endswith(_POSSESSIVE):
            continue
        return m.group()
    return None


def _full_name(text: str) -> str | None:
    """The first proper name of ``text`` when it has two words or more (a person's, an
    organisation's), else None."""
    name = _sentence_subject(text)
    return name if name and " " in name else None
