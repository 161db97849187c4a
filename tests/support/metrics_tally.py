"""The monitoring figures CI prints (`METRICS scraped <n> series, alerts <n> rules tested`): the alert
rules promtool tested (tests/test_alert_rules.py) and the series a real Prometheus scraped from a
deployed stack (the end-to-end test, when it runs). Only what this run measured is printed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MetricsTally:
    rules_tested: int | None = None
    series_scraped: int | None = None

    def line(self) -> str | None:
        parts = []
        if self.series_scraped is not None:
            parts.append(f"scraped {self.series_scraped} series")
        if self.rules_tested is not None:
            parts.append(f"alerts {self.rules_tested} rules tested")
        return f"METRICS {', '.join(parts)}" if parts else None


METRICS = MetricsTally()
