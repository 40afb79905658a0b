"""The area-code table agrees with phonenumbers' geocoder, which it stands in for."""

from __future__ import annotations

from collections import Counter

import phonenumbers
from phonenumbers import geocoder

from bridge.nanp_states import STATES
from bridge.phones import place_of

_US = (
    "Alabama AL|Alaska AK|Arizona AZ|Arkansas AR|California CA|Colorado CO|Connecticut CT|"
    "Delaware DE|Florida FL|Georgia GA|Hawaii HI|Idaho ID|Illinois IL|Indiana IN|Iowa IA|"
    "Kansas KS|Kentucky KY|Louisiana LA|Maine ME|Maryland MD|Massachusetts MA|Michigan MI|"
    "Minnesota MN|Mississippi MS|Missouri MO|Montana MT|Nebraska NE|Nevada NV|New Hampshire NH|"
    "New Jersey NJ|New Mexico NM|New York NY|North Carolina NC|North Dakota ND|Ohio OH|"
    "Oklahoma OK|Oregon OR|Pennsylvania PA|Rhode Island RI|South Carolina SC|South Dakota SD|"
    "Tennessee TN|Texas TX|Utah UT|Vermont VT|Virginia VA|Washington WA|Washington State WA|"
    "West Virginia WV|Wisconsin WI|Wyoming WY|Washington D.C. DC|District of Columbia DC|"
    "Alberta AB|British Columbia BC|British Colombia BC|Manitoba MB|New Brunswick NB|"
    "Newfoundland and Labrador NL|Nova Scotia NS|Ontario ON|Prince Edward Island PE|Quebec QC|"
    "Saskatchewan SK|Northwest Territories NT|Nunavut NU|Yukon YT"
)
NAMES = dict(entry.rsplit(" ", 1) for entry in _US.split("|"))
CODES = set(NAMES.values())
EXCHANGES = ("234", "345", "456", "567", "678", "789", "892", "925", "555", "201", "310", "620")


def geocoded() -> dict[str, str]:
    """Each area code's state, by what the geocoder says of a dozen of its exchanges."""
    found = {}
    for npa in range(200, 1000):
        votes: Counter[str] = Counter()
        for exchange in EXCHANGES:
            number = phonenumbers.parse(f"+1{npa}{exchange}4567")
            if phonenumbers.region_code_for_number(number) not in ("US", "CA"):
                continue
            place = str(geocoder.description_for_number(number, "en"))
            tail = place.rsplit(", ", 1)[-1]
            code = tail if tail in CODES else NAMES.get(place) or NAMES.get(tail)
            if code:
                votes[code] += 1
        if votes:
            found[str(npa)] = votes.most_common(1)[0][0]
    return found


def test_the_table_is_what_the_geocoder_says() -> None:
    expected = geocoded()
    packed = "".join(f"{npa}{state}" for npa, state in sorted(expected.items()))
    assert expected == STATES, f"phonenumbers changed: the new table is {packed!r}"


def test_places_of_numbers() -> None:
    assert place_of("+13055550100") == "FL"  # Miami
    assert place_of("+12065550100") == "WA"  # Seattle
    assert place_of("+14165550100") == "ON"  # Toronto
    assert place_of("+442071838750") == ""
    assert place_of("not a number") == ""
