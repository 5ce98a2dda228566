"""The email channel: mailboxes, every message received (kept raw, processed once), every
message sent (an outbox with retries), and the incidents monitoring systems open by mail.

Models hold fields and constraints only: ingestion goes through ``mail.ingest``, sending through
``mail.outbox``, configuration through ``mail.actions``.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Security(models.TextChoices):
    SSL = "ssl", _("SSL/TLS")
    STARTTLS = "starttls", _("STARTTLS")
    NONE = "none", _("None (local servers only)")


class UnknownSenderPolicy(models.TextChoices):
    """What happens to mail from an address no account has."""

    CREATE = "create", _("Create the requester (in the organisation owning their domain)")
    REFUSE = "refuse", _("Refuse politely")


class Mailbox(models.Model):
    """A mailbox the desk reads (IMAP, polled by the workers) or receives into through the
    ``opora ingest_email`` pipe, and whose address replies come from.

    The password is never stored: ``password_env`` names the environment variable holding it.
    """

    name = models.CharField(_("name"), max_length=120, unique=True)
    address = models.EmailField(_("address"), unique=True,
                                help_text=_("Replies are sent from and to this address."))
    is_active = models.BooleanField(_("active"), default=True)
    # IMAP (empty host: mail arrives through ``opora ingest_email`` only)
    imap_host = models.CharField(_("IMAP server"), max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(
        _("IMAP port"), default=993, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    imap_security = models.CharField(_("security"), max_length=10, choices=Security.choices,
                                     default=Security.SSL)
    imap_user = models.CharField(_("user name"), max_length=255, blank=True)
    password_env = models.CharField(
        _("password variable"), max_length=100, blank=True,
        help_text=_("Name of the environment variable that holds the password."))
    imap_folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    #: IMAP state: only UIDs above ``last_uid`` of the same UIDVALIDITY are new.
    uid_validity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    last_polled_at = models.DateTimeField(_("last checked"), null=True, blank=True,
                                          editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    # Where its tickets go
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+", verbose_name=_("team"))
    category = models.ForeignKey("catalog.Category", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+", verbose_name=_("category"))
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("organisation"),
        help_text=_("For senders whose domain no organisation owns."))
    unknown_senders = models.CharField(_("unknown senders"), max_length=10,
                                       choices=UnknownSenderPolicy.choices,
                                       default=UnknownSenderPolicy.CREATE)
    #: Reopen a resolved ticket when its requester answers by email.
    reopen_on_reply = models.BooleanField(_("a reply reopens a resolved ticket"), default=True)
    #: Monitoring systems allowed to open and resolve incidents by notification mail. Only
    #: listed senders: anyone else could otherwise resolve an incident with a forged recovery.
    monitoring_senders = models.TextField(
        _("monitoring senders"), blank=True,
        help_text=_("Addresses of monitoring systems (Icinga, Nagios), one a line; * matches "
                    "any characters. Their problem notifications open incidents, repeats join "
                    "them and recoveries resolve them. Empty: no monitoring by mail."))
    #: A worker polling this mailbox holds it until then (the others skip it).
    poll_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>"


class InboundStatus(models.TextChoices):
    RECEIVED = "received", _("Received, waiting")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored (automatic mail)")
    REFUSED = "refused", _("Refused")
    QUARANTINED = "quarantined", _("Quarantined (could not be processed)")


class InboundMessage(models.Model):
    """One message as received, kept raw forever (nothing is ever lost), processed once.

    ``sha256`` of the raw bytes makes a second delivery of the same bytes a no-op; the
    ``message_id`` (when present) per mailbox does the same for a re-delivery with different
    transport headers. Processing claims the row under a lock and marks it in the same
    transaction as the ticket change it causes, so a worker killed mid-message leaves it
    "received" for the next one, and two workers never process it twice.
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="messages", verbose_name=_("mailbox"))
    raw = models.BinaryField(_("raw message"))
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveIntegerField(_("size"))
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True, db_index=True)
    from_address = models.CharField(_("from"), max_length=320, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=InboundStatus.choices,
                              default=InboundStatus.RECEIVED)
    reason = models.CharField(_("reason"), max_length=200, blank=True,
                              help_text=_("Why it was ignored or refused."))
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.SET_NULL, null=True,
                               blank=True, related_name="inbound_messages",
                               verbose_name=_("ticket"))
    event = models.ForeignKey("tickets.TicketEvent", on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+", verbose_name=_("timeline entry"))
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("received message")
        verbose_name_plural = _("received messages")
        indexes = [
            models.Index(fields=["status", "received_at"], name="mail_inbound_status_idx"),
            models.Index(fields=["from_address", "received_at"], name="mail_inbound_sender_idx"),
        ]
        constraints = [
            # A re-delivery of the same message (other transport headers, same Message-ID) to
            # the same mailbox is the same message, also when two deliveries race.
            models.UniqueConstraint(fields=["mailbox", "message_id"],
                                    condition=~Q(message_id=""),
                                    name="mail_inbound_unique_message_id"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id or self.sha256[:12]} ({self.status})"


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (retries exhausted)")


class OutboundMessage(models.Model):
    """One message to send: written in the transaction of the change it reports, sent by the
    worker with retries; failures stay visible to administrators.

    ``message_id`` is ours (``<…@domain>`` without the brackets); replies that quote it in
    In-Reply-To/References thread back to ``ticket``.
    """

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, null=True,
                               blank=True, related_name="outbound_messages",
                               verbose_name=_("ticket"))
    event = models.ForeignKey("tickets.TicketEvent", on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+", verbose_name=_("timeline entry"))
    mailbox = models.ForeignKey(Mailbox, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("sent from"))
    recipient = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True,
                                  blank=True, related_name="+", verbose_name=_("recipient"))
    to = models.CharField(_("to"), max_length=320)
    subject = models.CharField(_("subject"), max_length=998)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML"), blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=998, unique=True)
    in_reply_to = models.CharField(_("In-Reply-To"), max_length=998, blank=True)
    references = models.TextField(_("References"), blank=True)
    headers = models.JSONField(_("other headers"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=OutboundStatus.choices,
                              default=OutboundStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("sent message")
        verbose_name_plural = _("outbox")
        indexes = [
            models.Index(fields=["next_attempt_at"], name="mail_outbox_due_idx",
                         condition=Q(status="queued")),
            models.Index(fields=["ticket", "created_at"], name="mail_outbox_ticket_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject} ({self.status})"


class MonitoringAlert(models.Model):
    """An incident a monitoring system opened by notification mail (Icinga, Nagios).

    ``key`` (host and service) finds the open alert again: a repeated notification joins its
    ticket, a recovery resolves it. At most one open alert per key, also with two workers.
    ``state`` and ``info`` are those of the notification that opened it.
    """

    source = models.CharField(_("monitoring system"), max_length=20)
    key = models.CharField(_("host and service"), max_length=520)
    host = models.CharField(_("host"), max_length=255)
    service = models.CharField(_("service"), max_length=255, blank=True)
    state = models.CharField(_("state"), max_length=40)
    last_state = models.CharField(_("last state"), max_length=40)
    info = models.TextField(_("information"), blank=True)
    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.PROTECT,
                                  related_name="monitoring_alert", verbose_name=_("ticket"))
    is_open = models.BooleanField(_("open"), default=True)
    notifications = models.PositiveIntegerField(_("notifications"), default=1)
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last notification"), default=timezone.now)
    recovered_at = models.DateTimeField(_("recovered"), null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("monitoring alert")
        verbose_name_plural = _("monitoring alerts")
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=Q(is_open=True),
                                    name="mail_alert_one_open_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.key} ({self.state})"
