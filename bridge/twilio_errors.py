"""Twilio's error codes in words an agent can act on: what went wrong, and what to do."""

from __future__ import annotations

# https://www.twilio.com/docs/api/errors: the codes a reply to a customer who texted us meets.
_PLAIN = {
    11200: (
        "Twilio could not fetch the attached file from smsbridge. Check that PUBLIC_URL is "
        "reachable from the internet, then send the file again."
    ),
    12300: "Twilio did not accept the attached file's type. Send it as JPEG, PNG or GIF.",
    21211: (
        "the customer's number is not a valid phone number. Check the number with them another way."
    ),
    21408: (
        "texting this country is not enabled on the Twilio account. An admin can allow it "
        "in Twilio's Messaging geographic permissions."
    ),
    21606: "our sending number cannot send SMS to this customer. Ask an admin to check it.",
    21610: (
        "the customer has replied STOP to this number, so carriers block our texts. "
        "They are now marked unsubscribed; only they can opt back in, by texting START."
    ),
    21612: (
        "this number cannot be reached from our sending number (carrier or route, or no MMS "
        "between them). Try text only, or reach the customer another way."
    ),
    21614: (
        "the customer's number is not a mobile number that can receive SMS (a landline?). "
        "Reach them another way."
    ),
    21617: "the text is longer than 1,600 characters. Shorten it and send it again.",
    21620: "Twilio could not use the attached file's link. Send the file again.",
    21623: "too many files in one message: MMS takes at most 10. Send fewer at a time.",
    21703: "the Messaging Service is not set up to send from this number. Ask an admin.",
    30001: (
        "Twilio's queue for our sending number overflowed (more texts were queued on it than "
        "it sends in hours, e.g. a campaign from the same number), so it was not sent. "
        "smsbridge now sends more slowly from this number: send it again in a few minutes."
    ),
    30003: (
        "the customer's phone is unreachable (switched off or out of coverage). Try again later."
    ),
    30004: (
        "the customer's carrier blocked the message, or the customer blocks texts from us. "
        "Reach them another way."
    ),
    30005: (
        "the customer's number is unknown to the carrier or no longer in service. Check the "
        "number with them another way."
    ),
    30006: ("the customer's number is a landline or cannot receive SMS. Reach them another way."),
    30007: (
        "the carrier filtered the message as spam. Rephrase it (fewer links, no shortened "
        "URLs) and try again; an admin should check the number's A2P registration."
    ),
    30008: (
        "the carrier did not say why. Try again later; if it keeps failing, reach the "
        "customer another way."
    ),
    30019: "the attached file is too large for the customer's carrier. Send a smaller one.",
    30034: (
        "US carriers block texts from our number because it is not registered for A2P 10DLC. "
        "An admin must finish the number's A2P 10DLC registration in Twilio."
    ),
}


def describe_error(code: int | None) -> str:
    """A sentence or two for a Twilio error code, with the code for support."""
    if code is None:
        return "Twilio did not say why."
    text = _PLAIN.get(code, "Twilio refused it.")
    return f"{text} (Twilio error {code}: https://www.twilio.com/docs/api/errors/{code})"


def explained(code: int) -> bool:
    """True for the codes smsbridge explains in its own words."""
    return code in _PLAIN
