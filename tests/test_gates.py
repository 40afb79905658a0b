"""The reply gates: who may text, whom, and what the author is told when not."""

from __future__ import annotations

import pytest

from bridge.consent import Consent
from bridge.gates import Decision, Reason, ReplyFacts, decide, explain, is_note
from bridge.ports import Role

OK = ReplyFacts(role=Role.ADMIN, consent=Consent.SUBSCRIBED, texted_first=True)


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.MANAGER])
def test_owners_admins_and_managers_may_text_a_subscribed_customer_who_texted_first(
    role: Role,
) -> None:
    assert decide(ReplyFacts(role, Consent.SUBSCRIBED, texted_first=True)) == Decision(
        True, Reason.ALLOWED
    )


@pytest.mark.parametrize(
    "role", [Role.MEMBER, Role.GUEST, Role.BOT, Role.DEACTIVATED, Role.UNKNOWN]
)
def test_nobody_else_may(role: Role) -> None:
    assert decide(ReplyFacts(role, Consent.SUBSCRIBED, True)) == Decision(False, Reason.ROLE)


@pytest.mark.parametrize(
    ("consent", "reason"),
    [
        (Consent.UNSUBSCRIBED, Reason.UNSUBSCRIBED),
        (Consent.NEVER_SUBSCRIBED, Reason.NEVER_SUBSCRIBED),
    ],
)
def test_only_subscribed_customers_are_texted(consent: Consent, reason: Reason) -> None:
    assert decide(ReplyFacts(Role.OWNER, consent, True)) == Decision(False, reason)


def test_a_customer_who_never_texted_is_not_texted() -> None:
    facts = ReplyFacts(Role.OWNER, Consent.SUBSCRIBED, texted_first=False)
    assert decide(facts) == Decision(False, Reason.NEVER_TEXTED)


def test_the_role_is_reported_before_anything_about_the_customer() -> None:
    facts = ReplyFacts(Role.MEMBER, Consent.UNSUBSCRIBED, texted_first=False, empty=True)
    assert decide(facts).reason is Reason.ROLE


def test_an_empty_reply_is_not_sent() -> None:
    facts = ReplyFacts(Role.OWNER, Consent.SUBSCRIBED, True, empty=True)
    assert decide(facts) == Decision(False, Reason.EMPTY)


@pytest.mark.parametrize(
    ("text", "note"),
    [("// internal", True), ("  //x", True), ("http://x.com", False), ("/ not", False)],
)
def test_notes_start_with_the_prefix(text: str, note: bool) -> None:
    assert is_note(text, "//") is note


def test_an_empty_prefix_means_no_notes() -> None:
    assert not is_note("// hi", "")


@pytest.mark.parametrize("reason", list(Reason))
def test_every_refusal_says_what_to_do(reason: Reason) -> None:
    text = explain(Decision(reason is Reason.ALLOWED, reason), role=Role.MEMBER, customer="Ann")
    assert text
    if reason not in (Reason.ALLOWED, Reason.EMPTY):
        assert text.startswith("Not sent") and "Ann" in text
