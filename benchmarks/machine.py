"""What machine a benchmark ran on, for the tables in docs/benchmarks.md."""
import platform
import subprocess


def cpu_name() -> str:
    """lscpu's model name (e.g. "AMD EPYC"), else what platform knows."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for row in out.splitlines():
            if row.startswith("Model name:"):
                return row.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"
