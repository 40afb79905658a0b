"""Sending an agent's reply as SMS past the gates, exactly once, and telling the agent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from bridge.auto_texts import SEND_AUTO
from bridge.config import Settings
from bridge.consent import Consent, Source
from bridge.consent_actions import change_and_show
from bridge.delivery import post_event_once
from bridge.gates import ALLOWED_ROLES, Decision, Reason, ReplyFacts, decide, explain
from bridge.ids import ChannelId, SlackTs
from bridge.inbound import POST_EVENT
from bridge.inbox import on_authorised_reply
from bridge.phones import international, masked
from bridge.ports import (
    ChatSink,
    OutgoingSms,
    People,
    ReplyFeedback,
    Role,
    SmsGateway,
    SmsRejected,
    SmsUnavailable,
)
from bridge.reply_intake import DELAY_NOTICE, FAILURE_NOTICE, RECALL_NOTICE, SEND_REPLY
from bridge.sms_text import slack_to_sms, split_sms
from bridge.twilio_errors import describe_error
from store import conversations, jobs, replies
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
# After this many failed attempts in a row, the thread is told that a reply is stuck.
DELAY_NOTICE_AFTER_FAILURES = 3


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
        contact = session.get(Contact, job.contact_id)
        conversation = (
            session.get(Conversation, job.conversation_id) if job.conversation_id else None
        )
        if reply is None or contact is None:
            return
        if job.kind == SEND_AUTO:
            self._send_auto(session, reply, conversation, contact, now)
            return
        if conversation is None:
            return
        if job.kind == SEND_REPLY:
            self._send(session, job, reply, conversation, contact, now)
        elif job.kind in (RECALL_NOTICE, FAILURE_NOTICE, DELAY_NOTICE):
            self._notice(session, job, reply, conversation)

    # -- sending -----------------------------------------------------------------------------

    def _send(
        self,
        session: Session,
        job: DeliveryJob,
        reply: Message,
        conversation: Conversation,
        contact: Contact,
        now: datetime,
    ) -> None:
        if reply.status == "pending" and not self._gate(session, reply, conversation, contact, now):
            return
        if reply.status != "sending":
            return
        try:
            outcome = self._send_parts(session, reply, contact, now, needs=Consent.SUBSCRIBED)
        except SmsUnavailable:
            if job.attempts + 1 == DELAY_NOTICE_AFTER_FAILURES:
                # The 📤 alone would look like it is on its way; say once that it is stuck.
                session.rollback()
                _enqueue_slack(session, DELAY_NOTICE, conversation, reply, now)
                session.commit()
            raise
        if outcome is Consent.UNSUBSCRIBED:
            self._lost_consent(session, reply, conversation, contact, now)
            return
        if isinstance(outcome, SmsRejected):
            self._failed(session, reply, conversation, contact, outcome, now)
            return
        _settle(session, reply, "sent", "sent by SMS", now)
        session.commit()
        log.info("reply %s sent to %s", reply.id, masked(contact.phone))
        self._feedback.react(*_where(conversation, reply), SENT, remove=ON_ITS_WAY)

    def _send_auto(
        self,
        session: Session,
        message: Message,
        conversation: Conversation | None,
        contact: Contact,
        now: datetime,
    ) -> None:
        """An automatic text: no gates but one, never to someone who opted out."""
        if message.status != "sending":
            return
        outcome = self._send_parts(session, message, contact, now, needs=None)
        if outcome is Consent.UNSUBSCRIBED:
            message.status = "cancelled"
        elif isinstance(outcome, SmsRejected):
            message.status = "failed"
            log.warning("automatic text %s failed: Twilio error %s", message.id, outcome.code)
            if outcome.code == UNSUBSCRIBED_RECIPIENT:
                _unsubscribed_by_twilio(session, contact, f"message {message.id}", now)
        else:
            message.status = "sent"
            if conversation is not None:
                _enqueue_slack(session, POST_EVENT, conversation, message, now)
        message.updated_at = now
        session.add(message)
        session.commit()

    def _send_parts(
        self,
        session: Session,
        message: Message,
        contact: Contact,
        now: datetime,
        *,
        needs: Consent | None,
    ) -> Consent | SmsRejected | None:
        """Send what is left of a message, checking consent before each part.

        None when all went; UNSUBSCRIBED when consent was lost on the way (or, with `needs`,
        is not what it must be); the rejection when Twilio refused a part for good.
        """
        assert message.id is not None
        for part in replies.parts_of(session, message_id=message.id):
            if part.twilio_sid:
                continue
            session.refresh(contact)
            lost = contact.consent == Consent.UNSUBSCRIBED
            if lost or (needs is not None and contact.consent != needs):
                return Consent.UNSUBSCRIBED
            try:
                self._send_once(session, part, now)
            except SmsRejected as rejected:
                part.status = "failed"
                part.error_code = rejected.code
                part.error_message = rejected.message[:500]
                part.updated_at = now
                session.add(part)
                return rejected
        return None

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
        if role in ALLOWED_ROLES:  # they answered, whatever the customer's gates say
            on_authorised_reply(
                session, conversation=conversation, author=reply.author or "", at=now
            )
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
        rejected: SmsRejected,
        now: datetime,
    ) -> None:
        _settle(session, reply, "failed", f"Twilio {rejected.code}", now)
        if rejected.code == UNSUBSCRIBED_RECIPIENT:
            _unsubscribed_by_twilio(session, contact, f"reply {reply.id}", now)
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
        _settle(session, reply, "refused", "consent lost before sending", now)
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
        elif job.kind == DELAY_NOTICE:
            if reply.status != "sending":
                return  # it went, or stopped, before the notice's turn came
            text = f"Not sent yet: {_why_stuck(session, reply)} It goes as soon as that is fixed."
        else:
            failed = [p for p in replies.parts_of(session, message_id=reply.id) if p.error_code]
            code = failed[0].error_code if failed else None
            text = f"Not delivered by SMS: {describe_error(code)}"
        post_event_once(self._sink, conversation, f"{job.kind}:{reply.id}", text, job)


def _why_stuck(session: Session, reply: Message) -> str:
    query = select(DeliveryJob.last_error).where(
        DeliveryJob.kind == SEND_REPLY, DeliveryJob.message_id == reply.id
    )
    error = session.exec(query).first() or ""
    if "credentials" in error:
        return (
            "Twilio refuses smsbridge's credentials; an admin should check TWILIO_ACCOUNT_SID "
            "and TWILIO_AUTH_TOKEN."
        )
    return "Twilio is not answering or is busy; smsbridge keeps trying."


def _settle(session: Session, reply: Message, status: str, reason: str, now: datetime) -> None:
    """A reply's final status, with the audit entry that says why."""
    reply.status = status
    reply.updated_at = now
    session.add(reply)
    replies.audit(session, message=reply, decision=status, reason=reason, at=now)


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


def _unsubscribed_by_twilio(session: Session, contact: Contact, cause: str, now: datetime) -> None:
    """Twilio says the number opted out (21610): the ledger and the threads learn it."""
    change_and_show(
        session,
        contact=contact,
        consent=Consent.UNSUBSCRIBED,
        source=Source.TWILIO_ERROR_21610,
        cause=cause,
        at=now,
    )


def _enqueue_slack(
    session: Session,
    kind: str,
    conversation: Conversation,
    message: Message | None,
    at: datetime,
) -> None:
    jobs.enqueue_in_thread(
        session,
        kind=kind,
        conversation=conversation,
        message_id=message.id if message else None,
        at=at,
    )
