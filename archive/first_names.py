"""Common English given names that are mostly a woman's or mostly a man's: enough for "she said"
not to be given to Oliver Sacks, nor "he said" to Mary Steenburgen (archive/speakers.py).

Written by hand from the most common given names in the US and UK; names often given to both,
or to a man in one country and a woman in another (Alex, Sam, Jordan, Taylor, Jamie, Jean,
Andrea, Kelly, Terry...), are in neither list. A name in neither list tells nothing, and a
pronoun may then still stand for it.
"""

from __future__ import annotations

FEMALE = frozenset(
    """
    abigail ada alice alicia alison amanda amber amelia amy ana angela ann anna anne
    annie ashley audrey barbara betty beverly brenda brittany caitlyn carol caroline carolyn
    catherine charlotte cheryl christina christine claire clara cynthia daisy deborah debra
    denise diana diane donna doris dorothy elena eleanor elizabeth ella ellen emily emma erin
    esther fiona frances gloria grace hannah heather helen ilhan isabel isabella jacqueline
    jane janet janice jasmine jennifer jessica joan joanna joyce judith judy julia
    julie karen kate katherine kathleen kathryn kathy katie kayla kimberly kristi kristin
    laura lauren linda lisa lori louise lucy lydia madison margaret maria marie marilyn martha
    mary megan melanie melissa michelle mildred molly nancy natalie nicole olivia pamela patricia
    paula rachel rebecca rose ruth samantha sandra sara sarah sharon shirley sophia sophie stephanie
    susan tammy teresa theresa tiffany valerie victoria virginia wendy
    """.split()
)

MALE = frozenset(
    """
    aaron adam alan albert alexander andrew anthony arthur austin benjamin bill billy bob bobby
    brandon brian bruce bryan carl charles charlie christopher craig daniel david dennis donald
    douglas dylan edward eric ethan eugene frank gary george gerald gregory harold harry henry
    howard jack jacob james jason jeffrey jeremy jerry jesse jim joe joel john johnny jonathan
    joseph joshua juan justin keith kenneth kevin kyle larry lawrence louis lucas luke mark
    martin matthew michael mike nathan neil nicholas noah oliver patrick paul peter philip ralph
    randy raymond richard robert roger ronald roy russell ryan samuel scott sean stephen steve
    steven thomas timothy tom tony tyler victor vincent walter wayne william willie zachary
    """.split()
)


def gender(name: str) -> str | None:
    """ "f", "m" or None (not known) for a full name, by its first word."""
    first = name.split()[0].lower() if name.split() else ""
    return "f" if first in FEMALE else "m" if first in MALE else None
