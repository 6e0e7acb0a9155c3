import sys
from pathlib import Path

# Test modules share helpers through tests/cliutil.py; make it importable from every subfolder.
sys.path.insert(0, str(Path(__file__).resolve().parent))
