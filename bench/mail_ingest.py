"""Email ingestion throughput: a local maildir of N messages through ``receive`` + ``process``.

    # SQLite (a fresh database in a temporary var dir):
    .venv/bin/python bench/mail_ingest.py --messages 10000 --workers 1
    # PostgreSQL (the database must exist; it is migrated first):
    createdb -h 127.0.0.1 -U postgres opora_bench_mail
    OPORA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/opora_bench_mail \\
        .venv/bin/python bench/mail_ingest.py --messages 10000 --workers 4

1. Builds a maildir (``--maildir``, default a temporary directory) of N messages from
   ../shared/corpora/email: every corpus mail that has a sender and is not automatic, in turn,
   each copy with its own Message-ID, a numbered subject and one of N/2 senders (so half the
   messages come from a person not yet known: a requester is created, as for real unknown
   senders). Bodies, charsets and attachments are the corpus's own.
2. Ingests them as the IMAP poller and the pipe command do: ``ingest.receive`` (store raw,
   de-duplicate) then ``process`` (parse, threading, safety, ticket action, mark processed) —
   in ``--workers`` processes, each taking every K-th file of the maildir.
3. Prints messages per second per worker and in total, and how many messages ended in each
   status. The per-sender rate limit is switched off (it would refuse the synthetic senders'
   bursts); notifications are queued as in production (not sent: no worker runs).

The numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opora.settings")
if not os.environ.get("OPORA_DATABASE_URL") and not os.environ.get("OPORA_VAR_DIR"):
    os.environ["OPORA_VAR_DIR"] = tempfile.mkdtemp(prefix="opora-bench-mail-")
os.environ.setdefault("OPORA_MEDIA_ROOT", tempfile.mkdtemp(prefix="opora-bench-media-"))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora" / "email"
METADATA = {".md", ".json", ".yml", ".yaml", ".gif", ".html"}
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def corpus_templates() -> list[bytes]:
    """Corpus mails with a sender that are not automatic (they would be ignored, not ticketed)."""
    from opora.mail.parsing import parse_message

    templates = []
    for path in sorted(CORPORA.rglob("*")):
        if not path.is_file() or path.suffix.lower() in METADATA:
            continue
        raw = path.read_bytes()
        parsed = parse_message(raw)
        if parsed.from_address and not parsed.auto and _HEADER_END.search(raw):
            templates.append(raw)
    if not templates:
        sys.exit(f"no usable mail under {CORPORA}")
    return templates


def _set_header(head: bytes, name: bytes, value: bytes) -> bytes:
    """Replace the header (with its continuation lines) or add it at the top."""
    pattern = re.compile(rb"(?im)^" + re.escape(name) + rb":[^\n]*\n(?:[ \t][^\n]*\n)*")
    line = name + b": " + value + b"\r\n"
    if pattern.search(head + b"\n"):
        return pattern.sub(lambda _m: line, head + b"\n", count=1)[:-1]
    return line + head


def build_maildir(path: Path, count: int, run: str) -> list[Path]:
    templates = corpus_templates()
    new = path / "new"
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    senders = max(1, count // 2)
    files = []
    for i in range(count):
        raw = templates[i % len(templates)]
        split = _HEADER_END.search(raw)
        assert split is not None
        head, body = raw[:split.start()], raw[split.start():]
        head = _set_header(head, b"Message-ID", f"<bench-{run}-{i}@bench.opora.test>".encode())
        head = _set_header(head, b"Subject", f"Bench message {run}-{i}".encode())
        head = _set_header(head, b"From",
                           f"Bench Person {i % senders} <person{run}-{i % senders}@bench.example>"
                           .encode())
        for drop in (b"In-Reply-To", b"References"):
            head = re.sub(rb"(?im)^" + drop + rb":[^\n]*\n(?:[ \t][^\n]*\n)*", b"", head + b"\n")
            head = head[:-1]
        target = new / f"{i:06d}.bench:2,"
        target.write_bytes(head + body)
        files.append(target)
    return files


def worker(args: tuple[list[str], int, int]) -> tuple[int, float, dict[str, int]]:
    paths, mailbox_id, _index = args
    connection.close()  # never share the parent's connection after fork
    from opora.mail import ingest
    from opora.mail.models import Mailbox

    settings.OPORA_MAIL_RATE_LIMIT = 0
    mailbox = Mailbox.objects.get(pk=mailbox_id)
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    for name in paths:
        message = ingest.receive(Path(name).read_bytes(), mailbox=mailbox)
        statuses[str(message.status)] += 1
    elapsed = time.perf_counter() - started
    connection.close()
    return len(paths), elapsed, dict(statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--maildir", type=Path, default=None)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    from opora.mail.models import InboundMessage, Mailbox
    from opora.tickets.models import Ticket

    maildir = args.maildir or Path(tempfile.mkdtemp(prefix="opora-bench-maildir-"))
    started = time.perf_counter()
    files = build_maildir(maildir, args.messages, run=f"{time.time():.0f}")
    print(f"maildir {maildir}: {len(files):,} messages built in "
          f"{time.perf_counter() - started:.1f} s")
    mailbox, _ = Mailbox.objects.get_or_create(
        address="bench@desk.example", defaults={"name": f"Bench {time.time():.0f}"})
    before = InboundMessage.objects.count(), Ticket.objects.count()
    connection.close()

    shares = [([str(p) for p in files[i::args.workers]], mailbox.pk, i)
              for i in range(args.workers)]
    wall = time.perf_counter()
    if args.workers == 1:
        results = [worker(shares[0])]
    else:
        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            results = pool.map(worker, shares)
    wall = time.perf_counter() - wall

    total: Counter[str] = Counter()
    engine = connection.vendor
    print(f"engine {engine}, {args.workers} worker(s), {len(files):,} messages")
    for i, (count, elapsed, statuses) in enumerate(results):
        total.update(statuses)
        print(f"  worker {i}: {count:,} messages in {elapsed:.1f} s = "
              f"{count / elapsed:.0f} messages/s")
    per_worker = sum(c / e for c, e, _s in results) / len(results)
    print(f"per worker (mean): {per_worker:.0f} messages/s; all workers: "
          f"{len(files) / wall:.0f} messages/s (wall {wall:.1f} s)")
    print(f"statuses: {dict(total)}")
    print(f"stored {InboundMessage.objects.count() - before[0]:,} messages, "
          f"{Ticket.objects.count() - before[1]:,} tickets")


if __name__ == "__main__":
    main()
