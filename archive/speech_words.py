"""The words the speaker rules read (archive/speakers.py): speech cues, titles, words for people
left unnamed and words that only open sentences. Lists, written by hand from the real pages and
the labelled sets (docs/extraction.md); a word added here changes who is found to speak.
"""

from __future__ import annotations

CUES = (
    "said|says|say|told|tells|tell|added|adds|stated|states|claimed|claims|claim|claiming|argued|"
    "argues|insisted|insists|explained|explains|noted|notes|wrote|writes|written|announced|"
    "announces|declared|declares|promised|promises|warned|warns|asked|asks|replied|replies|"
    "tweeted|posted|saying|stressed|stresses|admitted|admits|denied|denies|confirmed|confirms|"
    "acknowledged|acknowledges|vowed|vows|urged|urges|suggested|suggests|recalled|recalls|"
    "believes|believed|estimated|estimates|reported|reports|commented|remarked|continued|"
    "concluded|maintained|maintains|predicted|predicts|pledged|pledges|described|describes|"
    "accused|accuses|assured|assures|telling|ruled|rules|rejected|rejects|dismissed|dismisses|"
    "denounced|denounces"
)
PARTICIPLES = "saying|claiming|adding|arguing|insisting|noting|warning|stressing|explaining|vowing"

TITLES = frozenset(
    """president vice prime minister secretary general gen. gen sen. sen senator rep.
    representative governor gov. mayor chancellor king queen prince princess sheikh dr. dr
    mr. mr mrs. mrs ms. ms prof. prof professor chief commander col. col lt. lt captain capt.
    sgt. spokesman spokeswoman spokesperson ambassador judge justice pope ex-defence ex-defense
    former deputy foreign defence defense interior finance foreign-minister leader head supt.
    director chairman chairwoman ceo prosecutor prosecution public attorney coach""".split()
)

COUNTRY_INITIALS = frozenset({"U.S.", "U.K.", "U.N.", "E.U."})
# A title inside a proper-noun phrase ends the organisation or place part:
# "Indiana State Teachers Association President Keith Gambill" -> "Keith Gambill", "South
# Dakota Gov. Kristi Noem" -> "Kristi Noem".
INNER_TITLES = frozenset(
    """president secretary minister administrator chancellor governor senator mayor spokesman
    spokeswoman spokesperson ambassador director chairman chairwoman ceo commissioner attorney
    speaker superintendent chief commander judge leader insider employee gov. sen. rep. gen.
    lt. col. sgt. capt. supt.""".split()
)
SUFFIXES = frozenset("jr jr. sr sr. ii iii iv".split())

HEADLINE_WORDS = frozenset(
    "who what when where why how is are was were does did do can will has have here".split()
)
STOP_START = frozenset("the a an now but and so yet then this that these those in on at".split())
#: Words for people left unnamed, and notes, that open a sentence as a subject ("Officials said",
#: "Correction added"): no speaker.
UNNAMED = frozenset(
    """officials authorities analysts prosecutors sources others experts critics investigators
    researchers scientists witnesses residents doctors economists lawmakers observers
    organizers organisers activists supporters opponents officers diplomats correction update
    editors""".split()
)
# Capitalised only because they open a sentence: never the first word of a name ("When
# Steenburgen", "As Emily Feng", "After Epstein"), and never a speaker on their own ("That
# said", "On Monday, the People's Daily, ..., warned", "Other estimates").
LEADING = frozenset(
    """when while as after although though despite under over whatever with to am one since
    before because if unlike like for from by during amid against both each every many most
    some other another all also even just still yet so then thus here there this that these
    those we i you our my your their his its is are was were did does do can could would
    should might must not no summary shortly meanwhile however instead indeed later earlier
    today yesterday tomorrow once until unless whether monday tuesday wednesday thursday friday
    saturday sunday january february march september october november december we've we’ve
    you're you’re i'm i’m i've i’ve""".split()
)  # not "will", "april", "june", "august", "may": first names too (Will Smith, April Ryan)

#: Nouns for someone who speaks unnamed ("the statement said", "a Pentagon official said"): a
#: description, not a speaker's name.
ROLE_NOUNS = (
    "leader|spokesman|spokeswoman|spokesperson|official|officials|minister|president|commander|"
    "source|sources|statement|group|ministry|government|police|army|report|agency|movement|"
    "militants|insurgents"
)
