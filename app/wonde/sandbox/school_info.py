"""A made-up school object with every field Wonde's ``GET /schools/{id}`` returns."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from app.wonde.sandbox.names import PLACES, SAINTS, STREETS, TOWNS
from app.wonde.sandbox.state import DEFAULT_DOMAIN

_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def school_info(rng: random.Random, school_id: str, phase: str, connected: datetime) -> dict[str, Any]:
    """The school object; ``region.domain`` and ``school_url`` are rewritten by whichever server serves it."""
    place = rng.choice(PLACES)
    if phase == "primary":
        styles = (f"{place} Primary School", f"{rng.choice(SAINTS)} C of E Primary School", f"{place} Primary Academy")
        establishment_number = str(rng.randrange(2000, 3999))
    else:
        styles = (f"{place} Academy", f"{place} High School", f"{rng.choice(SAINTS)} Catholic High School")
        establishment_number = str(rng.randrange(4000, 5999))
    la_code = str(rng.randrange(201, 938))
    urn = rng.randrange(100000, 150000)
    town, area = rng.choice(TOWNS)
    postcode = f"{area}{rng.randint(1, 28)} {rng.randint(1, 9)}{''.join(rng.choices(_POSTCODE_LETTERS, k=2))}"
    audited = connected + timedelta(days=rng.randint(2, 30))
    return {
        "id": school_id,
        "name": rng.choice(styles),
        "establishment_number": establishment_number,
        "urn": urn,
        "phase_of_education": phase.upper(),
        "la_code": la_code,
        "timezone": "Europe/London",
        "mis": "SIMS",
        "address": {
            "address_line_1": rng.choice(STREETS),
            "address_line_2": place,
            "address_town": town,
            "address_postcode": postcode,
            "address_country": {"code": "GBR", "name": "England"},
        },
        "extended": {
            "allows_writeback": False,
            "has_timetables": phase == "secondary",
            "has_lesson_attendance": False,
            "audit_approved_at": {"date": audited.strftime("%Y-%m-%d %H:%M:%S"), "timezone_type": 3, "timezone": "UTC"},
        },
        "region": {
            "code": "GBR",
            "domain": DEFAULT_DOMAIN,
            "school_url": f"https://{DEFAULT_DOMAIN}/v1.0/schools/{school_id}",
            "identifiers": {"la_code": la_code, "establishment_number": establishment_number, "urn": urn},
        },
    }
