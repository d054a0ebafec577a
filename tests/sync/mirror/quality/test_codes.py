"""The data-quality vocabulary: one closed list of codes, each with the sentence a school admin reads."""

from __future__ import annotations

from pathlib import Path

from app.sync.mirror.quality.codes import FROM_THE_MIRROR, RECORDED, IssueCode


def test_the_list_of_codes_is_closed() -> None:
    assert [code.value for code in IssueCode] == [
        "quarantined",
        "no_upn",
        "shared_name_in_class",
        "empty_class",
        "student_in_no_class",
        "no_year",
        "excluded",
        "cleaned",
    ]


def test_every_code_tells_the_admin_in_one_sentence_what_to_fix() -> None:
    sentences = [code.sentence for code in IssueCode]
    assert len(set(sentences)) == len(sentences)
    for sentence in sentences:
        assert sentence[0].isupper() and sentence.endswith("."), sentence
        assert sentence.count(". ") == 0, f"more than one sentence: {sentence}"
        assert "MIS" in sentence, f"says nothing of the MIS: {sentence}"


def test_the_mirror_answers_five_codes_and_reads_record_three() -> None:
    assert {IssueCode.QUARANTINED, IssueCode.CLEANED, IssueCode.EXCLUDED} == RECORDED
    assert set(IssueCode) == FROM_THE_MIRROR | RECORDED
    assert {
        IssueCode.NO_UPN,
        IssueCode.SHARED_NAME_IN_CLASS,
        IssueCode.EMPTY_CLASS,
        IssueCode.STUDENT_IN_NO_CLASS,
        IssueCode.NO_YEAR,
    } == FROM_THE_MIRROR


def test_the_readme_tells_every_code_and_its_sentence() -> None:
    readme = (Path(__file__).resolve().parents[4] / "README.md").read_text()
    for code in IssueCode:
        assert f"| `{code.value}` |" in readme and code.sentence in readme, code
