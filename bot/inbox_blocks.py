"""Block Kit for the inbox in a thread: the header's state and buttons, reminders, history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.escape import escape, truncate
from bridge.inbox_cards import Reminder, Speaker, ThreadState, Transcript, TranscriptLine

Blocks = list[dict[str, Any]]

# action_ids of the header buttons bot/inbox_buttons.py listens to.
MARK_READ, CLAIM, RESOLVE = "inbox_mark_read", "inbox_claim", "inbox_resolve"
_SECTION_LIMIT = 3000
# A transcript line shows this much of a message: the thread stays readable.
_LINE_LIMIT = 300
_SPEAKERS = {
    Speaker.CUSTOMER: ":arrow_left: Customer",
    Speaker.AGENT: ":arrow_right: Agent",
    Speaker.AUTOMATED: ":robot_face: Automated",
}


def thread_state_blocks(state: ThreadState | None) -> Blocks:
    """A context line under the header: unread, claimed, overdue, resolved, earlier thread."""
    if state is None:
        return []
    facts = []
    if state.resolved_by:
        facts.append(f":white_check_mark: Resolved by <@{state.resolved_by}>")
    elif state.unread:
        facts.append(":large_blue_circle: Unread")
    if state.claimed_by and not state.resolved_by:
        facts.append(f":bust_in_silhouette: Claimed by <@{state.claimed_by}>")
    if state.overdue_since is not None and not state.resolved_by:
        facts.append(f":alarm_clock: Overdue: waiting since {slack_date(state.overdue_since)}")
    if state.previous_link:
        facts.append(f":leftwards_arrow_with_hook: <{state.previous_link}|Earlier conversation>")
    if state.note:
        facts.append(f":warning: {escape(state.note)}")
    if not facts:
        return []
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": f} for f in facts]}]


def thread_buttons(state: ThreadState | None) -> list[dict[str, Any]]:
    """Mark read (while unread), Claim and Resolve; none once resolved."""
    if state is None or state.resolved_by:
        return []
    value = str(state.conversation_id)
    buttons = [button("Mark read", MARK_READ, value)] if state.unread else []
    claim = "Take over" if state.claimed_by else "Claim"
    buttons += [button(claim, CLAIM, value), button("Resolve", RESOLVE, value)]
    return buttons


def button(label: str, action_id: str, value: str) -> dict[str, Any]:
    """A plain Block Kit button."""
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


def render_inbox(content: Transcript | Reminder) -> tuple[str, Blocks]:
    """The notification text and blocks of a transcript or a reminder."""
    if isinstance(content, Reminder):
        return _reminder(content)
    return _transcript(content)


def _reminder(reminder: Reminder) -> tuple[str, Blocks]:
    text = (
        f":alarm_clock: This customer has waited over {reminder.minutes} minutes for an answer "
        f"(since {slack_date(reminder.waiting_since)})."
    )
    if reminder.mention:
        text = f"{mention(reminder.mention)} {text}"
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def mention(who: str) -> str:
    """Slack markup that notifies a user, a user group, or the channel (`here`)."""
    if who in ("here", "channel"):
        return f"<!{who}>"
    if who.startswith("S"):
        return f"<!subteam^{who}>"
    return f"<@{who}>"


def _transcript(transcript: Transcript) -> tuple[str, Blocks]:
    count = len(transcript.lines)
    title = f":scroll: *Earlier messages* ({count}, oldest first)"
    rows = [_line(line) for line in transcript.lines]
    if transcript.note:
        rows.append(f":warning: {escape(transcript.note)}")
    blocks: Blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": title}}]
    chunk = ""
    for row in rows:
        if chunk and len(chunk) + len(row) + 1 > _SECTION_LIMIT:
            blocks.append(_section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{row}" if chunk else row
    if chunk:
        blocks.append(_section(chunk))
    return "\n".join([title, *rows]), blocks


def _line(line: TranscriptLine) -> str:
    who = _SPEAKERS[line.speaker]
    if line.author:
        who += f" <@{line.author}>"
    body = escape(truncate(line.body.replace("\n", " "), _LINE_LIMIT)) or "_(no text)_"
    if line.num_media:
        body += f" :paperclip: {line.num_media}"
    return f"{slack_date(line.at)} {who}: {body}"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def slack_date(when: datetime) -> str:
    """A time each reader sees in their own zone (bot.blocks.slack_date, without the cycle)."""
    fallback = when.strftime("%d %b %Y %H:%M UTC").lstrip("0")
    return f"<!date^{int(when.timestamp())}^{{date_short}} {{time}}|{fallback}>"
