import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
# Idle OpenMP workers must sleep, not spin: spinning threads make torch 10-50x slower on 2 shared cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
