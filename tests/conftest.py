import sys
from pathlib import Path

# The program's modules (components/) and the test helpers import from the repository root.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
