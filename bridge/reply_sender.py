"""Sending an agent's reply as SMS past the gates, exactly once, and telling the agent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from bridge.auto_texts import SEND_AUTO
from bridge.config import Settings
from bridge.consent import Consent, Source
from bridge.consent_actions import change_and_show
from bridge.delivery import post_event_once
from bridge.gates import ALLOWED_ROLES, Decision, Reason, ReplyFacts, decide, explain
from bridge.held_replies import HELD_NOT_SENT, HOLD_NOTICE, held_text, not_sent_text
from bridge.ids import ChannelId, SlackTs
from bridge.inbound import POST_EVENT
from bridge.inbox import on_authorised_reply
from bridge.localtime import quiet_check_for, resolve_zone
from bridge.outbound_media import OutboundMedia
from bridge.phones import international, masked
from bridge.ports import (
    ChatSink,
    Later,
    OutgoingSms,
    People,
    ReplyFeedback,
    Role,
    SmsGateway,
    SmsRejected,
    SmsUnavailable,
)
from bridge.quiet_hours import QuietCheck, clock_words
from bridge.reply_intake import DELAY_NOTICE, FAILURE_NOTICE, RECALL_NOTICE, SEND_REPLY
from bridge.segments import total_segments
from bridge.sms_text import slack_to_sms, split_sms
from bridge.status_display import ON_ITS_WAY as STATUS_ON_ITS_WAY
from bridge.status_display import REACTIONS, StatusDisplay
from bridge.twilio_errors import describe_error
from store import conversations, jobs, replies
from store.models import Contact, Conversation, DeliveryJob, Message, OutboundSms

log = logging.getLogger(__name__)

ON_ITS_WAY, REFUSED = REACTIONS[STATUS_ON_ITS_WAY], "no_entry_sign"
HELD = "hourglass_flowing_sand"
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
        media: OutboundMedia | None = None,
    ) -> None:
        self._settings = settings
        self._sms = sms
        self._people = people
        self._feedback = feedback
        self._sink = sink
        self._media = media
        self._status = StatusDisplay(feedback)

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> Later | None:
        """Do the job's work; the caller commits and marks it done, or holds it for Later."""
        if job.message_id is None:
            return None
        reply = session.get(Message, job.message_id)
        contact = session.get(Contact, job.contact_id)
        conversation = (
            session.get(Conversation, job.conversation_id) if job.conversation_id else None
        )
        if reply is None or contact is None:
            return None
        if job.kind == SEND_AUTO:
            self._send_auto(session, reply, conversation, contact, now)
            return None
        if conversation is None:
            return None
        if job.kind == SEND_REPLY:
            return self._send(session, job, reply, conversation, contact, now)
        if job.kind == HOLD_NOTICE:
            self._hold_notice(reply, conversation, contact, now)
        elif job.kind in (RECALL_NOTICE, FAILURE_NOTICE, DELAY_NOTICE, HELD_NOT_SENT):
            self._notice(session, job, reply, conversation)
        return None

    # -- sending -----------------------------------------------------------------------------

    def _send(
        self,
        session: Session,
        job: DeliveryJob,
        reply: Message,
        conversation: Conversation,
        contact: Contact,
        now: datetime,
    ) -> Later | None:
        if reply.status == "cancelled" and reply.held_until is not None:
            self._feedback.unreact(*_where(conversation, reply), HELD)
        if reply.status == "pending":
            gated = self._gate(session, reply, conversation, contact, now)
            if gated is not True:
                return gated or None
        if reply.status != "sending":
            return None
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
            return None
        if isinstance(outcome, SmsRejected):
            self._failed(session, reply, conversation, contact, outcome, now)
            return None
        _settle(session, reply, "sent", "sent by SMS", now)
        assert reply.id is not None
        self._status.record(session, reply, replies.parts_of(session, message_id=reply.id))
        session.commit()
        log.info("reply %s sent to %s", reply.id, masked(contact.phone))
        self._status.show(session, reply, conversation, now)
        return None

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
        parts = replies.parts_of(session, message_id=message.id)
        if needs is not None:
            self._before_first_part(session, message, parts, now)
        for part in parts:
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
    ) -> bool | Later:
        """Decide; on yes, fix the text as SMS parts. False when the reply stops here, Later
        when quiet hours hold it (every gate is asked again when it falls due)."""
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
            empty=not text.strip() and not reply.num_media,
        )
        decision = decide(facts)
        if decision.allowed and reply.send_now_by is None:
            quiet = quiet_check_for(
                contact,
                policy=self._settings.quiet_policy,
                default_zone=self._settings.default_timezone,
                now=now,
            )
            if quiet.due is not None:
                if reply.held_until is None:  # answered, though it goes in the morning
                    on_authorised_reply(
                        session, conversation=conversation, author=reply.author or "", at=now
                    )
                return _hold(session, reply, conversation, quiet, now)
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
        elif reply.held_until is not None:
            # The agent was told it would go; the thread learns why it did not.
            _enqueue_slack(session, HELD_NOT_SENT, conversation, reply, now)
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
        if reply.held_until is not None:
            self._feedback.unreact(channel, ts, HELD)
        if decision.allowed:
            self._feedback.react(channel, ts, ON_ITS_WAY)
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
            media_urls=self._media.urls_for(session, part) if self._media else (),
        )
        if not sms.body and not sms.media_urls:
            raise SmsRejected(None, "Nothing was sent: there was no text, and no file could go.")
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

    def _before_first_part(
        self, session: Session, reply: Message, parts: list[OutboundSms], now: datetime
    ) -> None:
        """Fetch the reply's files; tell the author what it costs and which files stay."""
        if reply.delivery_status is not None or any(p.twilio_sid for p in parts):
            return  # said on an earlier attempt
        notes = self._media.prepare(session, reply, now) if self._media else []
        # 📤 is on it; also marks the note as said, before saying it.
        reply.delivery_status = reply.status_shown = STATUS_ON_ITS_WAY
        session.add(reply)
        session.commit()
        segments = total_segments(p.body for p in parts)
        if reply.num_media and self._media and self._media.urls_for(session, parts[0]):
            notes.insert(0, "On its way by MMS.")
        elif segments.count > 1:
            why = " (emoji or other characters outside GSM-7 make it UCS-2)" * segments.unicode
            notes.insert(0, f"On its way as {segments.count} SMS segments{why}.")
        conversation = session.get(Conversation, reply.conversation_id)
        if notes and conversation is not None:
            thread_ts = SlackTs(conversation.parent_ts or "")
            self._feedback.tell(
                ChannelId(conversation.channel), reply.author or "", thread_ts, " ".join(notes)
            )

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
        assert reply.id is not None
        self._status.record(session, reply, replies.parts_of(session, message_id=reply.id))
        session.commit()
        log.warning("reply %s failed: Twilio error %s", reply.id, rejected.code)
        self._status.show(session, reply, conversation, now)

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

    def _hold_notice(
        self, reply: Message, conversation: Conversation, contact: Contact, now: datetime
    ) -> None:
        """Tell the author, privately, that the reply waits for the morning, with buttons."""
        if reply.status != "pending" or reply.held_until is None or reply.send_now_by:
            return  # sent, cancelled or released before the notice's turn came
        zone = resolve_zone(
            phone=contact.phone, stored=contact.timezone, default=self._settings.default_timezone
        )
        text = held_text(
            local_now=now.astimezone(ZoneInfo(zone.primary)),
            zone=zone.primary,
            due=reply.held_until,
            now=now,
            also=zone.zones[1:],
        )
        channel, ts = _where(conversation, reply)
        thread_ts = SlackTs(conversation.parent_ts or "")
        assert reply.id is not None
        self._feedback.offer_hold(channel, reply.author or "", thread_ts, text, reply.id)
        self._feedback.react(channel, ts, HELD)

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
        elif job.kind == HELD_NOT_SENT:
            trail = replies.audit_trail(session, contact_id=reply.contact_id)
            why = next((a.reason for a in reversed(trail) if a.message_id == reply.id), "")
            text = not_sent_text(why, reply.author or "")
        elif job.kind == DELAY_NOTICE:
            if reply.status != "sending":
                return  # it went, or stopped, before the notice's turn came
            text = f"Not sent yet: {_why_stuck(session, reply)} It goes as soon as that is fixed."
        else:
            failed = [p for p in replies.parts_of(session, message_id=reply.id) if p.error_code]
            code = failed[0].error_code if failed else None
            text = f"Not delivered by SMS: {describe_error(code)}"
            if code is None:
                text = _our_refusal(session, reply) or text
        post_event_once(self._sink, conversation, f"{job.kind}:{reply.id}", text, job)


def _hold(
    session: Session, reply: Message, conversation: Conversation, quiet: QuietCheck, now: datetime
) -> Later:
    """Hold the reply until it may go; the author is told once per due time."""
    assert quiet.due is not None
    if reply.held_until != quiet.due:
        zone = f"{clock_words(quiet.local_now)} in {quiet.zone}"
        replies.audit(
            session,
            message=reply,
            decision="held",
            reason=f"quiet hours: {zone}; due {quiet.due.isoformat()}",
            at=now,
        )
        reply.held_until = quiet.due
        reply.updated_at = now
        session.add(reply)
        _enqueue_slack(session, HOLD_NOTICE, conversation, reply, now)
    return Later(quiet.due)


def _our_refusal(session: Session, reply: Message) -> str | None:
    """Why a reply failed before Twilio saw it (no code), in our words."""
    assert reply.id is not None
    for part in replies.parts_of(session, message_id=reply.id):
        if part.status == "failed" and part.error_code is None and part.error_message:
            return part.error_message
    return None


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
