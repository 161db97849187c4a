"""Prometheus's text exposition format (version 0.0.4), written with the standard library by the
programs that know the figures (the indexer here; the host's scripts render the same format in sh).

Names follow Prometheus's conventions (https://prometheus.io/docs/practices/naming/): base units in
the name (`_bytes`, `_seconds`, `_timestamp_seconds`), `_total` for counters. Standard library only:
it runs inside the pypiserver image with the indexer (static_index.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# What the front server sends with these files: Prometheus 3 refuses a scrape whose Content-Type it
# cannot tell (scrape_config `fallback_scrape_protocol`), and 2.x reads this type as the text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Sample = tuple[Mapping[str, str], float]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def family(name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> str:
    """One metric family: its HELP and TYPE lines, then a line per sample (labels sorted)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        shown = ",".join(f'{key}="{_escape(str(labels[key]))}"' for key in sorted(labels))
        lines.append(f"{name}{{{shown}}} {_number(value)}" if shown else f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"


def gauge(name: str, help_text: str, value: float) -> str:
    return family(name, "gauge", help_text, [({}, value)])
