"""Peak memory of a piece of code, measured in a fresh interpreter (the hostile-input tests' one helper).

The child imports what it needs, notes its peak RSS (getrusage's ru_maxrss), caps its own address space a
little above what it holds (so code that would take the machine's memory fails there instead), runs the
body, and reports its peak RSS growth and the body's outcome as JSON.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, resource, traceback
{setup}
def _vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
room = _vm_bytes() + {headroom}
resource.setrlimit(resource.RLIMIT_AS, (room, room))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcome = {{"error": None, "type": None, "value": None}}
try:
{body}
except BaseException as exc:
    outcome = {{"error": str(exc), "type": type(exc).__name__, "value": None}}
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("RESULT " + json.dumps({{**outcome, "before_mb": before / 1024, "growth_mb": (after - before) / 1024}}))
"""


def measure(setup: str, body: str, headroom_mb: int = 2048, timeout_s: float = 120) -> dict:
    """Run `body` after `setup` in a child process; returns {"error", "type", "growth_mb", "before_mb"}.

    Args:
        setup: imports and preparation, not measured. body: the code under test; it may set `outcome["value"]`.
        headroom_mb: the address space the body may add before allocations fail (protects the machine).
    """
    code = _CHILD.format(setup=textwrap.dedent(setup), headroom=headroom_mb * 2**20,
                         body=textwrap.indent(textwrap.dedent(body), "    "))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s, env=env,
                          cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the child printed no result (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(lines[-1][len("RESULT "):])
