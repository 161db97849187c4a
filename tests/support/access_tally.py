"""The access matrix CI prints (`ACCESS matrix <n> cells, <k> wrong`): every role by every project rule
by every status by every action, through the real front server (tests/test_access_matrix.py). Only
printed when this run measured it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AccessTally:
    cells: int | None = None
    wrong: int = 0

    def line(self) -> str | None:
        return f"ACCESS matrix {self.cells} cells, {self.wrong} wrong" if self.cells is not None else None


ACCESS = AccessTally()
