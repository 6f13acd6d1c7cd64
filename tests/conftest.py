import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
