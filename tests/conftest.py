import sys
from pathlib import Path

# Test helpers (sandbox_env) import as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
