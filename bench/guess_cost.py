"""What one offline guess at a user's password costs, on this machine, for someone holding the htpasswd file.

    venv/bin/python -m bench.guess_cost             # cost 10 (the default bcryptRounds) and 12
    venv/bin/python -m bench.guess_cost --rounds 4 10 12 14

The salt comes from the stack's salt key, not from the password (components/pypiserver/htpasswd.py),
so a guess is tested only by computing bcrypt at the file's cost: one `bcrypt.checkpw` of a wrong
password against a hash the program wrote. Timed as CPU time on one core (a guesser runs one guess per
core at a time), the median of --runs (15), with the program's bcrypt and with the pypiserver image's
pins (passlib 1.7.4, bcrypt 3.2.0: the virtualenv the real-pypiserver tests build under .cache/, used
if it is there).
For comparison, the shortcut the earlier salts offered: they were scrypt(password) (n=2**14, r=8, p=1),
stored in the hash, so one scrypt tested a guess whatever the bcrypt cost.

A guesser with a GPU or dedicated hardware is faster; the ratio between the costs stays (each step of
the cost doubles the work). Prints one line per library and cost, and as its last line:

    guess: cost10_ms=<x> cost12_ms=<y> scrypt_ms=<z>   (this venv's bcrypt)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time

from components.pypiserver.htpasswd import derive_salt, hash_password
from components.pypiserver.settings import DEFAULT_IMAGE
from tests.support.recorded import ROOT

PASSWORD, GUESS = "ci-password-7f3a9c1e5b", "ci-password-7f3a9c1e5c"

# Run by each interpreter: argv = [hashes as JSON, guess, runs]; prints versions and the median ms per hash.
TIMER = """
import json, sys, time
import bcrypt
hashes, guess, runs = json.loads(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])
out = {"bcrypt": bcrypt.__version__, "ms": {}}
for cost, digest in hashes.items():
    times = []
    for _ in range(runs):
        start = time.process_time()
        assert not bcrypt.checkpw(guess, digest.encode())
        times.append((time.process_time() - start) * 1000)
    out["ms"][cost] = sorted(times)[len(times) // 2]
print(json.dumps(out))
"""


def _interpreters() -> dict[str, str]:
    found = {"program venv": sys.executable}
    image_venv = ROOT / ".cache" / f"pypiserver-{DEFAULT_IMAGE.split(':')[1]}-venv" / "bin" / "python"
    if image_venv.exists():
        found["image pins"] = str(image_venv)
    return found


def _scrypt_ms(runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        hashlib.scrypt(GUESS.encode(), salt=b"pypi-index htpasswd\0ctx\0ci", dklen=16, n=2**14, r=8, p=1)
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, nargs="+", default=[10, 12])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    salt = derive_salt("a measured key", "pypi-index/bench", "ci")
    hashes = {str(cost): hash_password(PASSWORD, salt, cost) for cost in args.rounds}
    mine: dict[str, float] = {}
    for label, python in _interpreters().items():
        result = subprocess.run(
            [python, "-c", TIMER, json.dumps(hashes), GUESS, str(args.runs)],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        seen = json.loads(result.stdout)
        for cost, ms in seen["ms"].items():
            print(f"{label:12} bcrypt {seen['bcrypt']:6} cost {cost:>2}: {ms:7.1f} ms per guess")
        if python == sys.executable:
            mine = seen["ms"]
    scrypt = _scrypt_ms(args.runs)
    print(f"{'earlier salt':12} scrypt n=2**14 r=8: {scrypt:7.1f} ms per guess, whatever the bcrypt cost")
    print("guess: " + " ".join(f"cost{cost}_ms={ms:.0f}" for cost, ms in mine.items()) + f" scrypt_ms={scrypt:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
