"""Twilio's error codes in words an agent can act on."""

from __future__ import annotations

# https://www.twilio.com/docs/api/errors: the codes a reply to a customer who texted us meets.
_PLAIN = {
    21211: "the customer's number is not a valid phone number.",
    21408: "texting this country is not enabled on the Twilio account.",
    21606: "our sending number cannot send SMS to this customer.",
    21610: (
        "the customer has replied STOP to this number, so carriers block our texts. "
        "They are now marked unsubscribed; only they can opt back in, by texting START."
    ),
    21612: "this number cannot be reached from our sending number (carrier or route).",
    21614: "the customer's number is not a mobile number that can receive SMS.",
    21617: "the text is longer than 1,600 characters.",
    21703: "the Messaging Service is not set up to send from this number.",
    30003: "the customer's phone is unreachable (off or out of coverage).",
    30004: "the customer's carrier blocked the message.",
    30005: "the customer's number is unknown to the carrier or no longer in service.",
    30006: "the customer's number is a landline or cannot receive SMS.",
    30007: "the carrier filtered the message as spam.",
    30008: "the carrier did not say why.",
}


def describe_error(code: int | None) -> str:
    """One sentence for a Twilio error code, with the code for support."""
    if code is None:
        return "Twilio did not say why."
    text = _PLAIN.get(code, "Twilio refused it.")
    return f"{text} (Twilio error {code}: https://www.twilio.com/docs/api/errors/{code})"
