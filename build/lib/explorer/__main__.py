import os
import sys

# Before torch loads: spinning OpenMP threads are many times slower on shared cores (docs/benchmarks.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
