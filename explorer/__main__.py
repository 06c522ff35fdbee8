import sys

# Before torch loads: how OpenMP's threads wait (spin briefly when this process has its cores to itself, sleep at
# once on a shared machine, where spinning threads were 10-30x slower) is read once, when OpenMP starts
# (explorer/cpu.py, docs/benchmarks.md).
from .cpu import apply_wait

apply_wait()

from .cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
