from __future__ import annotations

import re
import uuid

from app.pupils.credentials import LoginDetails
from app.pupils.login_cards import render_cards


def test_cards_print_any_name_and_one_sheet_per_ten_pupils() -> None:
    names = [("Zoë", "Nowak"), ("Łukasz", "Wiśniewski"), ("Siobhán", "O'Neill"), ("陈", "伟")] * 3
    details = [
        LoginDetails(uuid.uuid4(), first, last, f"pupil{i}", "tiger482") for i, (first, last) in enumerate(names)
    ]
    pdf = render_cards("Oak Primary", {"Class 4B": details, "Class 4C": details[:2]})
    assert pdf.startswith(b"%PDF")
    assert re.findall(rb"/Count (\d+)", pdf) == [b"3"]  # 12 pupils: two sheets; 2 pupils: one


def test_no_cards_waiting_is_said_plainly() -> None:
    assert render_cards("Oak Primary", {}).startswith(b"%PDF")
