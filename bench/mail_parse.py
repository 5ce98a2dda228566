"""Parse every message of the email corpora N times and print messages per second.

    .venv/bin/python bench/mail_parse.py [--repeat 5] [--corpora ../shared/corpora]

Only ``opora.mail.parsing.parse_message`` (which includes ``replies.strip_reply``) is timed,
in this one process, on messages already read into memory: no database, no Django setup. The
per-corpus lines show where the time goes; the slowest messages are listed with their size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from opora.mail.parsing import parse_message  # noqa: E402

_SKIP_SUFFIXES = (".md", ".json", ".yml", "_reply_text")
_SKIP_PARTS = ("crisp-email-reply-parser", "signature", "email_signature_detection")


def corpus_messages(corpora: Path) -> list[tuple[str, bytes]]:
    """(corpus name, raw bytes) of every whole message under email/ and the alert mails."""
    found = []
    for path in sorted((corpora / "email").rglob("*")):
        if not path.is_file() or path.name.endswith(_SKIP_SUFFIXES):
            continue
        if any(part in path.parts for part in _SKIP_PARTS):
            continue
        found.append((path.relative_to(corpora / "email").parts[0], path.read_bytes()))
    for path in sorted((corpora / "alerts" / "zammad-monitoring-emails").glob("*.eml")):
        found.append(("alerts", path.read_bytes()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="passes over the corpora")
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    args = parser.parse_args()
    messages = corpus_messages(args.corpora)
    if not messages:
        sys.exit(f"no messages under {args.corpora}")
    for _name, raw in messages:  # warm-up: imports, regex compilation, codec lookups
        parse_message(raw)

    per_corpus: dict[str, list[float]] = {}
    slowest: list[tuple[float, str, int]] = []
    started = time.perf_counter()
    for _ in range(args.repeat):
        for name, raw in messages:
            before = time.perf_counter()
            parse_message(raw)
            took = time.perf_counter() - before
            stats = per_corpus.setdefault(name, [0.0, 0, 0])
            stats[0] += took
            stats[1] += 1
            stats[2] += len(raw)
            slowest.append((took, name, len(raw)))
    elapsed = time.perf_counter() - started

    count = len(messages) * args.repeat
    size = sum(len(raw) for _n, raw in messages) * args.repeat
    print(
        f"{len(messages)} messages × {args.repeat} = {count} parses in {elapsed:.2f} s: "
        f"{count / elapsed:.0f} messages/s, {size / elapsed / 1e6:.1f} MB/s (one process)"
    )
    for name, (seconds, parses, nbytes) in sorted(per_corpus.items()):
        print(f"  {name:28} {parses / seconds:8.0f} msg/s  {nbytes / parses / 1024:8.1f} KiB avg")
    slowest.sort(reverse=True)
    print("slowest parses:")
    for took, name, length in slowest[:5]:
        print(f"  {took * 1000:7.1f} ms  {name:28} {length / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
