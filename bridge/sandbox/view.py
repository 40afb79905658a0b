"""What the sandbox page shows, as JSON: the inbox channel, private notices, phones, App Home."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.emulators import SlackEmulator, TwilioEmulator

Json = dict[str, Any]


def page_state(
    slack: SlackEmulator, twilio: TwilioEmulator, *, channel: str, business: str, names: Json
) -> Json:
    """Everything the page draws, read from the two emulators."""
    return {
        "business": business,
        "channel": {"id": channel, "name": slack.channel_names.get(channel, channel)},
        "messages": [
            _message(slack, channel, m, with_replies=True) for m in slack.top_level(channel)
        ],
        "ephemerals": [_ephemeral(e) for e in slack.ephemerals],
        "phones": _phones(twilio, business, names),
        "views": {user: view.get("blocks", []) for user, view in slack.views.items()},
        "users": {uid: _user(u) for uid, u in slack.users.items()},
    }


def _message(slack: SlackEmulator, channel: str, message: Json, *, with_replies: bool) -> Json:
    shown: Json = {
        "ts": message["ts"],
        "user": message.get("user", ""),
        "bot": bool(message.get("bot_id")),
        "text": message.get("text", ""),
        "blocks": [b for b in message.get("blocks", []) if b.get("type") != "rich_text"],
        "reactions": [r["name"] for r in message.get("reactions", [])],
        "edited": "edited" in message,
    }
    if with_replies:
        shown["replies"] = [
            _message(slack, channel, r, with_replies=False)
            for r in slack.thread(channel, message["ts"])
        ]
    return shown


def _ephemeral(params: Json) -> Json:
    blocks = params.get("blocks")
    return {
        "user": params.get("user", ""),
        "thread_ts": params.get("thread_ts") or "",
        "text": params.get("text", ""),
        "blocks": blocks if isinstance(blocks, list) else [],
        "ts": params.get("message_ts", ""),
    }


def _phones(twilio: TwilioEmulator, business: str, names: Json) -> Json:
    phones: Json = {}
    for message in twilio.messages():
        outbound = str(message["direction"]).startswith("outbound")
        phone = message["to"] if outbound else message["from"]
        if business not in (message["to"], message["from"]):
            continue
        entry = phones.setdefault(phone, {"name": names.get(phone, ""), "messages": []})
        entry["messages"].append(
            {
                "direction": "in" if outbound else "out",  # as the phone sees it
                "body": message["body"],
                "status": message["status"],
                "sid": message["sid"],
            }
        )
    return phones


def _user(user: Json) -> Json:
    role = "member"
    if user.get("is_owner"):
        role = "owner"
    elif user.get("is_admin"):
        role = "admin"
    return {"name": user.get("real_name") or user.get("name"), "role": role, "bot": user["is_bot"]}
