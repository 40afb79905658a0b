"""Sending an agent's reply as SMS past the gates, exactly once, and telling the agent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from bridge.cards import ThreadEvent
from bridge.config import Settings
from bridge.consent import Consent
from bridge.gates import Decision, Reason, ReplyFacts, decide, explain
from bridge.ids import ChannelId, SlackTs
from bridge.inbound import UPDATE_CARD
from bridge.phones import international, masked
from bridge.ports import (
    ChatPost,
    ChatSink,
    OutgoingSms,
    People,
    ReplyFeedback,
    Role,
    SmsGateway,
    SmsRejected,
    SmsUnavailable,
)
from bridge.reply_intake import FAILURE_NOTICE, RECALL_NOTICE, SEND_REPLY
from bridge.sms_text import slack_to_sms, split_sms
from bridge.twilio_errors import describe_error
from store import contacts, conversations, jobs, replies
from store.models import Contact, Conversation, DeliveryJob, Message, OutboundSms

log = logging.getLogger(__name__)

ON_ITS_WAY, SENT, FAILED, REFUSED = "outbox_tray", "incoming_envelope", "x", "no_entry_sign"
FILES_NOT_SENT = (
    "Only the text of your reply goes out by SMS: files and pictures are not sent yet. "
    "Describe or link what you shared if the customer needs it."
)
# How far before an attempt to look for a message whose answer we lost.
_RECONCILE_MARGIN = timedelta(minutes=2)
# Twilio's code for "the recipient replied STOP": carriers block everything we send.
UNSUBSCRIBED_RECIPIENT = 21610


class ReplySender:
    """Runs the reply jobs: send, and the notices that go with a reply in its thread."""

    def __init__(
        self,
        *,
        settings: Settings,
        sms: SmsGateway,
        people: People,
        feedback: ReplyFeedback,
        sink: ChatSink,
    ) -> None:
        self._settings = settings
        self._sms = sms
        self._people = people
        self._feedback = feedback
        self._sink = sink

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Do the job's work; the caller commits and marks it done."""
        if job.message_id is None:
            return
        reply = session.get(Message, job.message_id)
        conversation = session.get(Conversation, job.conversation_id)
        contact = session.get(Contact, job.contact_id)
        if reply is None or conversation is None or contact is None:
            return
        if job.kind == SEND_REPLY:
            self._send(session, reply, conversation, contact, now)
        elif job.kind in (RECALL_NOTICE, FAILURE_NOTICE):
            self._notice(session, job, reply, conversation)

    # -- sending -----------------------------------------------------------------------------

    def _send(
        self,
        session: Session,
        reply: Message,
        conversation: Conversation,
        contact: Contact,
        now: datetime,
    ) -> None:
        if reply.status == "pending" and not self._gate(session, reply, conversation, contact, now):
            return
        if reply.status != "sending":
            return
        assert reply.id is not None
        for part in replies.parts_of(session, message_id=reply.id):
            if part.twilio_sid:
                continue
            session.refresh(contact)
            if contact.consent != Consent.SUBSCRIBED:
                self._lost_consent(session, reply, conversation, contact, now)
                return
            try:
                self._send_once(session, part, now)
            except SmsRejected as rejected:
                self._failed(session, reply, conversation, contact, part, rejected, now)
                return
        reply.status = "sent"
        reply.updated_at = now
        session.add(reply)
        replies.audit(session, message=reply, decision="sent", reason="sent by SMS", at=now)
        session.commit()
        log.info("reply %s sent to %s", reply.id, masked(contact.phone))
        self._feedback.react(*_where(conversation, reply), SENT, remove=ON_ITS_WAY)

    def _gate(
        self,
        session: Session,
        reply: Message,
        conversation: Conversation,
        contact: Contact,
        now: datetime,
    ) -> bool:
        """Decide; on yes, fix the text as SMS parts. False when the reply stops here."""
        role = self._people.role_of(reply.author or "")
        text = slack_to_sms(
            reply.body,
            user_name=self._people.display_name,
            channel_name=self._people.channel_name,
        )
        facts = ReplyFacts(
            role=role,
            consent=Consent(contact.consent),
            texted_first=conversations.texted_first(
                session, contact_id=contact.id or 0, business_number=conversation.business_number
            ),
            empty=not text.strip(),
        )
        decision = decide(facts)
        # Guarded on `pending`: an edit or deletion in the meantime wins.
        claimed = session.execute(
            update(Message)
            .where(col(Message.id) == reply.id, col(Message.status) == "pending")
            .values(status="sending" if decision.allowed else "refused", updated_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return False
        replies.audit(
            session,
            message=reply,
            decision="accepted" if decision.allowed else "refused",
            reason=f"{decision.reason.value} (role {role.value}, consent {contact.consent})",
            at=now,
        )
        if decision.allowed:
            replies.add_parts(session, message=reply, bodies=split_sms(text), at=now)
        session.commit()
        session.refresh(reply)
        self._tell_decision(reply, conversation, contact, decision, role)
        return decision.allowed

    def _tell_decision(
        self,
        reply: Message,
        conversation: Conversation,
        contact: Contact,
        decision: Decision,
        role: Role,
    ) -> None:
        channel, ts = _where(conversation, reply)
        if decision.allowed:
            self._feedback.react(channel, ts, ON_ITS_WAY)
            if reply.num_media:
                thread_ts = SlackTs(conversation.parent_ts or "")
                self._feedback.tell(channel, reply.author or "", thread_ts, FILES_NOT_SENT)
            return
        log.info("reply %s refused: %s", reply.id, decision.reason.value)
        self._feedback.react(channel, ts, REFUSED)
        text = explain(decision, role=role, customer=_customer(contact))
        thread_ts = SlackTs(conversation.parent_ts or "")
        self._feedback.tell(channel, reply.author or "", thread_ts, text)

    def _send_once(self, session: Session, part: OutboundSms, now: datetime) -> None:
        """Send unless done; if an earlier attempt's answer was lost, look before sending."""
        sms = OutgoingSms(
            to=part.to_number,
            sender=part.from_number,
            body=part.body,
            service=self._settings.twilio_messaging_service_sid,
        )
        if part.attempted_at is not None:
            found = self._sms.find_sent(
                sms,
                since=part.attempted_at - _RECONCILE_MARGIN,
                exclude=replies.known_sids(session, to_number=part.to_number),
            )
            if found is not None:
                log.info(
                    "SMS part %s was sent before a crash or timeout; not sending again", part.id
                )
                _record_sent(session, part, found.sid, found.status, now)
                return
        part.attempted_at = now
        session.add(part)
        session.commit()
        try:
            sent = self._sms.send(sms)
        except SmsUnavailable as unavailable:
            if not unavailable.uncertain:
                part.attempted_at = None
                session.add(part)
                session.commit()
            raise
        _record_sent(session, part, sent.sid, sent.status, now)

    def _failed(
        self,
        session: Session,
        reply: Message,
        conversation: Conversation,
        contact: Contact,
        part: OutboundSms,
        rejected: SmsRejected,
        now: datetime,
    ) -> None:
        part.status = "failed"
        part.error_code = rejected.code
        part.error_message = rejected.message[:500]
        part.updated_at = now
        session.add(part)
        reply.status = "failed"
        reply.updated_at = now
        session.add(reply)
        replies.audit(
            session, message=reply, decision="failed", reason=f"Twilio {rejected.code}", at=now
        )
        if rejected.code == UNSUBSCRIBED_RECIPIENT and contacts.change_consent(
            session,
            contact=contact,
            consent=Consent.UNSUBSCRIBED.value,
            source="twilio-error-21610",
            at=now,
        ):
            _enqueue_slack(session, UPDATE_CARD, conversation, None, now)
        _enqueue_slack(session, FAILURE_NOTICE, conversation, reply, now)
        session.commit()
        log.warning("reply %s failed: Twilio error %s", reply.id, rejected.code)
        self._feedback.react(*_where(conversation, reply), FAILED, remove=ON_ITS_WAY)

    def _lost_consent(
        self,
        session: Session,
        reply: Message,
        conversation: Conversation,
        contact: Contact,
        now: datetime,
    ) -> None:
        """Consent went while the reply waited: what has not gone yet never goes."""
        reply.status = "refused"
        reply.updated_at = now
        session.add(reply)
        replies.audit(
            session,
            message=reply,
            decision="refused",
            reason="consent lost before sending",
            at=now,
        )
        session.commit()
        reason = Reason.UNSUBSCRIBED
        if contact.consent != Consent.UNSUBSCRIBED:
            reason = Reason.NEVER_SUBSCRIBED
        channel, ts = _where(conversation, reply)
        self._feedback.react(channel, ts, REFUSED, remove=ON_ITS_WAY)
        text = explain(Decision(False, reason), role=Role.ADMIN, customer=_customer(contact))
        self._feedback.tell(
            channel, reply.author or "", SlackTs(conversation.parent_ts or ""), text
        )

    # -- notices in the thread ---------------------------------------------------------------

    def _notice(
        self, session: Session, job: DeliveryJob, reply: Message, conversation: Conversation
    ) -> None:
        if not conversation.parent_ts:
            return
        assert reply.id is not None
        if job.kind == RECALL_NOTICE:
            text = (
                "This reply had already gone out by SMS: editing or deleting it in Slack "
                "does not change what the customer received."
            )
        else:
            failed = [p for p in replies.parts_of(session, message_id=reply.id) if p.error_code]
            code = failed[0].error_code if failed else None
            text = f"Not delivered by SMS: {describe_error(code)}"
        channel = ChannelId(conversation.channel)
        thread_ts = SlackTs(conversation.parent_ts)
        key = f"{job.kind}:{reply.id}"
        if job.attempts and self._sink.find(
            channel, key, thread_ts=thread_ts, since=job.created_at
        ):
            return  # an earlier attempt posted it; only its answer was lost
        self._sink.post(ChatPost(channel, ThreadEvent(text, job.created_at), key, thread_ts))


def _record_sent(session: Session, part: OutboundSms, sid: str, status: str, now: datetime) -> None:
    part.twilio_sid = sid
    part.status = status
    part.updated_at = now
    session.add(part)
    session.commit()


def _where(conversation: Conversation, reply: Message) -> tuple[ChannelId, SlackTs]:
    return ChannelId(conversation.channel), SlackTs(reply.slack_ts or "")


def _customer(contact: Contact) -> str:
    return contact.name or international(contact.phone)


def _enqueue_slack(
    session: Session, kind: str, conversation: Conversation, reply: Message | None, at: datetime
) -> None:
    assert conversation.id is not None
    jobs.enqueue(
        session,
        kind=kind,
        contact_id=conversation.contact_id,
        channel=conversation.channel,
        conversation_id=conversation.id,
        message_id=reply.id if reply else None,
        at=at,
    )
