"""The data-quality vocabulary: every issue code the list can hold, and for each the one sentence that
tells a school admin what to fix in their MIS.

This is the one place codes are defined. A later feature that finds a new kind of issue adds its code
and its sentence here (the tests check every code has one); codes are stored and sent to clients as
data, so their strings never change. ``FROM_THE_MIRROR`` names the codes computed from the MIS mirror;
``RECORDED`` those a read records as it goes (``mis_record_issues``; ``excluded``: a student a full
read did not return whom Wonde neither deleted nor lists as a leaver, ``app.sync.mirror.missing``).
"""

from __future__ import annotations

from enum import StrEnum


class IssueCode(StrEnum):
    """One kind of data-quality issue, as listed and as filtered by (``?code=``)."""

    QUARANTINED = "quarantined"
    NO_UPN = "no_upn"
    SHARED_NAME_IN_CLASS = "shared_name_in_class"
    EMPTY_CLASS = "empty_class"
    STUDENT_IN_NO_CLASS = "student_in_no_class"
    NO_YEAR = "no_year"
    EXCLUDED = "excluded"
    CLEANED = "cleaned"

    @property
    def sentence(self) -> str:
        """What the school admin should do about it, in plain English."""
        return SENTENCES[self]


class Record(StrEnum):
    """What kind of MIS record an issue is about (its ``wonde_id`` is that record's)."""

    STUDENT = "student"
    CLASS = "class"
    GROUP = "group"  # a registration group, which the admin sees beside the classes


# Addressed to the school admin, in one sentence each: what is wrong and what to change in the MIS.
SENTENCES: dict[IssueCode, str] = {
    IssueCode.QUARANTINED: (
        "This record could not be read from your MIS and is left out of the sync until it is corrected there."
    ),
    IssueCode.NO_UPN: (
        "This student has no UPN in your MIS; add it, or their account will need to be matched by hand"
        " if the school ever changes MIS."
    ),
    IssueCode.SHARED_NAME_IN_CLASS: (
        "Two students in this class have the same name in your MIS; give one a preferred name or middle"
        " name there so teachers and the app can tell them apart."
    ),
    IssueCode.EMPTY_CLASS: (
        "This class has no students in your MIS; add its students there, or end the class if it is no longer taught."
    ),
    IssueCode.STUDENT_IN_NO_CLASS: (
        "This student is in no class or registration group in your MIS, so no band will include them;"
        " put them in one there."
    ),
    IssueCode.NO_YEAR: (
        "This student has no year group in your MIS that the app can read; set their year group there."
    ),
    IssueCode.EXCLUDED: (
        "This student vanished from your MIS without a leaving date, so their account is kept; give them"
        " a leaving date in your MIS, or check why they are no longer shared with the app."
    ),
    IssueCode.CLEANED: (
        "A value in this record was changed on its way in from your MIS (spaces or characters the app"
        " cannot store); correct it in your MIS so the two agree."
    ),
}

# The codes the MIS mirror answers (each is a query of the school's current mirror rows).
FROM_THE_MIRROR = frozenset(
    {
        IssueCode.NO_UPN,
        IssueCode.SHARED_NAME_IN_CLASS,
        IssueCode.EMPTY_CLASS,
        IssueCode.STUDENT_IN_NO_CLASS,
        IssueCode.NO_YEAR,
    }
)

# The codes a read records, record by record, as it cleans and sets aside what Wonde sent.
RECORDED = frozenset({IssueCode.QUARANTINED, IssueCode.CLEANED, IssueCode.EXCLUDED})
