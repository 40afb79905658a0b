"""Who may text: roles from users.info and the manager list or group, cached briefly."""

from __future__ import annotations

import pytest

from bot.people import SlackPeople
from bot.poster import make_client
from bridge.ports import ChatUnavailable, Role
from tests.emulators import SlackEmulator


class Timer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _people(
    slack: SlackEmulator, *, managers: tuple[str, ...] = (), group: str | None = None
) -> tuple[SlackPeople, Timer]:
    timer = Timer()
    client = make_client(token=slack.token, base_url=slack.url)
    return SlackPeople(client, managers=managers, manager_group=group, timer=timer), timer


@pytest.mark.parametrize(
    ("flags", "role"),
    [
        ({"is_primary_owner": True, "is_owner": True, "is_admin": True}, Role.OWNER),
        ({"is_owner": True}, Role.OWNER),
        ({"is_admin": True}, Role.ADMIN),
        ({}, Role.MEMBER),
        ({"is_restricted": True}, Role.GUEST),
        ({"is_ultra_restricted": True}, Role.GUEST),
        ({"is_bot": True}, Role.BOT),
        ({"deleted": True, "is_admin": True}, Role.DEACTIVATED),
        ({"is_restricted": True, "is_admin": True}, Role.GUEST),
    ],
)
def test_roles_come_from_the_users_flags(
    slack: SlackEmulator, flags: dict[str, bool], role: Role
) -> None:
    slack.add_user("U1", "someone", **flags)
    people, _ = _people(slack)
    assert people.role_of("U1") is role


def test_managers_by_list_and_by_group_but_never_a_guest(slack: SlackEmulator) -> None:
    slack.add_user("ULIST", "lis")
    slack.add_user("UGROUP", "gro")
    slack.add_user("UGUEST", "gue", is_restricted=True)
    slack.usergroups["S1"] = ["UGROUP", "UGUEST"]
    people, _ = _people(slack, managers=("ULIST", "UGUEST"), group="S1")
    assert people.role_of("ULIST") is Role.MANAGER
    assert people.role_of("UGROUP") is Role.MANAGER
    assert people.role_of("UGUEST") is Role.GUEST


def test_an_unknown_user_or_group_is_no_manager(slack: SlackEmulator) -> None:
    slack.add_user("U1", "someone")
    people, _ = _people(slack, group="S404")
    assert people.role_of("UNOBODY") is Role.UNKNOWN
    assert people.role_of("U1") is Role.MEMBER


def test_a_burst_asks_slack_once_and_a_promotion_counts_after_the_ttl(
    slack: SlackEmulator,
) -> None:
    slack.add_user("U1", "someone")
    slack.usergroups["S1"] = []
    people, timer = _people(slack, group="S1")
    for _ in range(20):
        assert people.role_of("U1") is Role.MEMBER
    assert len(slack.calls_to("users.info")) == 1
    assert len(slack.calls_to("usergroups.users.list")) == 1
    slack.users["U1"]["is_admin"] = True
    timer.now += 61
    assert people.role_of("U1") is Role.ADMIN


def test_slack_being_down_is_not_a_refusal(slack: SlackEmulator) -> None:
    slack.add_user("U1", "someone", is_admin=True)
    people, _ = _people(slack)
    slack.down = True
    with pytest.raises(ChatUnavailable):
        people.role_of("U1")
    slack.down = False
    assert people.role_of("U1") is Role.ADMIN


def test_names_for_mentions_and_channels(slack: SlackEmulator) -> None:
    slack.add_user("U1", "dana", display_name="Dana S")
    slack.add_user("U2", "eve", display_name="", real_name="Eve Real")
    slack.channel_names["C1"] = "orders"
    people, _ = _people(slack)
    assert people.display_name("U1") == "Dana S"
    assert people.display_name("U2") == "Eve Real"
    assert people.display_name("U404") is None
    assert people.channel_name("C1") == "orders"
