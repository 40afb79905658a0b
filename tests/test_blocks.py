"""What the thread shows: the header's facts, and customer text made inert."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.blocks import card_blocks, card_text, render
from bridge.cards import ContactCard, CustomerText, ThreadEvent
from bridge.consent import Consent
from bridge.contact_card import card_for
from bridge.quiet_hours import QuietPolicy
from store.models import Contact

NOW = datetime(2026, 3, 12, 22, 2, tzinfo=UTC)


def test_header_shows_number_consent_local_time_and_location() -> None:
    contact = Contact(phone="+14155550100", city="OAKLAND", state="CA", country="US")
    card = card_for(contact, default_zone="America/New_York", now=NOW)
    assert card_text(card) == (
        "SMS conversation with +1 415-555-0100 · Never subscribed to SMS"
        " · Local time 3:02 PM PDT (America/Los_Angeles) · OAKLAND, CA"
    )
    blocks = str(card_blocks(card))
    assert "+1 415-555-0100" in blocks
    assert "Never subscribed to SMS" in blocks
    assert "Local time 3:02 PM PDT (America/Los_Angeles)" in blocks
    assert "OAKLAND, CA" in blocks


def test_header_says_when_it_is_quiet_hours_there() -> None:
    # 8:02 a.m. in New York is 5:02 a.m. in Los Angeles.
    early = datetime(2026, 1, 12, 13, 2, tzinfo=UTC)
    contact = Contact(phone="+14155550100")
    quiet = card_for(contact, default_zone="America/New_York", now=early, policy=QuietPolicy())
    assert "Local time 5:02 AM PST (America/Los_Angeles) · quiet hours" in card_text(quiet)
    later = card_for(contact, default_zone="America/New_York", now=NOW, policy=QuietPolicy())
    assert "quiet hours" not in str(card_blocks(later))


def test_header_says_the_zone_is_uncertain_for_a_number_of_several_zones() -> None:
    contact = Contact(phone="+18005550123")  # toll-free: any North American zone
    evening = datetime(2026, 3, 12, 23, 30, tzinfo=UTC)
    card = card_for(contact, default_zone="America/New_York", now=evening, policy=QuietPolicy())
    assert "zone uncertain" in card_text(card)
    # 7:30 p.m. in New York, but 9 p.m. in St. John's, one of its zones: quiet.
    assert card.quiet


def test_header_prefers_the_name_and_says_when_consent_changed() -> None:
    contact = Contact(
        phone="+14155550100",
        name="Ada <Lovelace>",
        consent="subscribed",
        consent_changed_at=datetime(2026, 3, 12, 21, 2, tzinfo=UTC),
    )
    blocks = str(card_blocks(card_for(contact, default_zone="America/New_York", now=NOW)))
    assert "*Ada &lt;Lovelace&gt;*" in blocks and "+1 415-555-0100" in blocks
    # Slack renders the change in each reader's own zone.
    assert (
        "Subscribed to SMS since <!date^1773349320^{date_short} {time}|12 Mar 2026 21:02 UTC>"
        in blocks
    )


def test_uncertain_zones_are_flagged() -> None:
    contact = Contact(phone="+61412345678")
    blocks = str(card_blocks(card_for(contact, default_zone="UTC", now=NOW)))
    assert "zone uncertain" in blocks


def test_customer_text_is_escaped_and_verbatim() -> None:
    text, blocks = render(CustomerText("a <@U1> & <!here>", NOW, 0))
    assert text == "a &lt;@U1&gt; &amp; &lt;!here&gt;"
    assert blocks[0]["text"]["verbatim"] is True
    assert blocks[0]["text"]["text"] == text


def test_empty_texts_with_pictures_say_so() -> None:
    text, _ = render(CustomerText("", NOW, 2))
    assert "(no text)" in text and "2 attachments" in text


def test_events_are_context_lines() -> None:
    text, blocks = render(ThreadEvent("Texted STOP: unsubscribed", NOW))
    assert blocks[0]["type"] == "context"
    assert text.endswith("Texted STOP: unsubscribed")


def test_every_consent_state_has_a_label() -> None:
    for consent in Consent:
        card = ContactCard("x", "x", consent, None, NOW, "UTC", False, None)
        assert card_blocks(card)
