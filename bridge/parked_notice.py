"""Telling the thread that a delivery job kept failing and was set aside."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bridge.delivery import post_event_once
from bridge.ports import ChatSink
from store import jobs
from store.models import Conversation, DeliveryJob

# What each kind of job delivers, in words a support team reads.
_WHAT = {
    "post_text": "a customer's text",
    "post_event": "a thread event",
    "update_card": "a header update",
    "send_reply": "a reply by SMS",
    "send_auto": "an automatic text",
}


class ParkedNotice:
    """Posts, once, which job was parked and why; operators also see it in /healthz."""

    def __init__(self, sink: ChatSink) -> None:
        self._sink = sink

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Post the notice for the conversation's latest parked job."""
        conversation = session.get(Conversation, job.conversation_id)
        if conversation is None or not conversation.parent_ts or conversation.id is None:
            return
        parked = jobs.latest_parked(session, conversation_id=conversation.id)
        if parked is None:
            return
        what = _WHAT.get(parked.kind, parked.kind.replace("_", " "))
        text = (
            f"smsbridge could not deliver {what} after {parked.attempts} attempts and set it "
            f"aside so later messages are not held up ({parked.last_error}). "
            "An operator can see it in /healthz."
        )
        post_event_once(self._sink, conversation, f"parked:{parked.id}", text, job)
