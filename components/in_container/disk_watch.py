"""The store's disk, read by the indexer after every scan. While it could not take the largest upload
and keep its margin (index_rules.disk_report), uploads pause: a flag file in the pages volume, for which
the front server answers 507 before a byte is stored (front/routes.py). Pages and downloads never pause.
The reading itself is left beside it, marked with who wrote it, for the deploy's health gate.
Standard library only: it runs inside the pypiserver image with the indexer (static_index.py).
"""

from __future__ import annotations

import os
import socket

# Beside this file (see static_index.py for the two ways it is run).
if __package__:
    from . import fs, index_rules
else:
    import fs  # type: ignore[import-not-found, no-redef]
    import index_rules  # type: ignore[import-not-found, no-redef]

PAUSED_FLAG = ".uploads-paused"
DISK_REPORT = ".disk"  # the last reading, whatever it says (the deploy's health gate reports it)
# Who wrote that reading: the indexer's host name, which Docker sets to its container's (Config.Hostname).
# The pages volume outlives every indexer, so a reading alone would not show that this one runs; the
# health gate waits until the mark names the container it just deployed.
WRITER_MARK = ".indexer"


class DiskWatch:
    def __init__(self, packages: str, output: str, upload_limit: int = 0):
        self.packages = packages
        self.output = output
        self.upload_limit = upload_limit
        self.paused: bool | None = None
        self.free = self.total = 0
        """The last reading, in bytes (the indexer's metrics report it)."""

    def check(self) -> bool:
        """Pause or resume uploads (the front server answers 507 while the flag file exists)."""
        st = os.statvfs(self.packages)
        self.free, self.total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
        paused, text = index_rules.disk_report(self.free, self.total, self.upload_limit)
        flag = os.path.join(self.output, PAUSED_FLAG)
        fs.write_text(os.path.join(self.output, DISK_REPORT), ("uploads paused: " if paused else "") + text + "\n")
        fs.write_text(os.path.join(self.output, WRITER_MARK), socket.gethostname() + "\n")
        if paused:
            fs.write_text(flag, text + "\n")
        elif os.path.exists(flag):
            os.remove(flag)
        if paused != self.paused:
            print(f"indexer: uploads {'paused' if paused else 'accepted'}: {text}", flush=True)
            self.paused = paused
        return paused
