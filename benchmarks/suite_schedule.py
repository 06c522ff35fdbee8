"""Replay one test run's times under two pytest-xdist schedules: what the order of the suite's units is worth.

    python -m pytest --durations=0 ... > run.log            # any run: its per-test setup, call and teardown times
    python -m pytest -n 0 --collect-only -q > order.txt     # this checkout's collection order (conftest's)
    python benchmarks/suite_schedule.py run.log order.txt [--workers 3]

"old": every test its own unit, in file order, a worker topped up while two of its tests are pending (what main
did while pytest 9.2 hid the xdist groups); "new": tests/conftest.py's units (a file, or a SHARED group), in
collection order, topped up at one pending test. Each test costs its own recorded time under both, so the fixtures
that the old schedule rebuilt on each worker are not counted against it. Figures: docs/benchmarks.md, "Groups and
order".
"""
from __future__ import annotations

import argparse
import collections
import heapq
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import group_of  # noqa: E402 - the suite's own grouping

_TIME = re.compile(r"\s*([\d.]+)s (?:call|setup|teardown)\s+(tests/\S+)")


def read_times(log: Path) -> dict[str, float]:
    """{node id: setup + call + teardown seconds} from a --durations=0 report."""
    times: dict[str, float] = collections.defaultdict(float)
    for line in log.read_text().splitlines():
        if m := _TIME.match(line):
            times[m.group(2)] += float(m.group(1))
    return times


def replay(units: list[list[str]], times: dict[str, float], workers: int, top_up_at: int) -> float:
    """Wall seconds when `workers` take `units` in order, each topped up while <= top_up_at tests are pending."""
    queue = collections.deque(units)
    pending: dict[int, collections.deque] = {w: collections.deque() for w in range(workers)}

    def top_up(w: int) -> None:
        while queue and len(pending[w]) <= top_up_at:
            pending[w].extend(queue.popleft())
    for w in range(workers):
        if queue:
            pending[w].extend(queue.popleft())
        top_up(w)
    clock, end = [(0.0, w) for w in range(workers)], 0.0
    while clock:
        now, w = heapq.heappop(clock)
        if not pending[w]:
            end = max(end, now)
            continue
        test = pending[w].popleft()
        top_up(w)
        heapq.heappush(clock, (now + times.get(test, 0.0), w))
    return end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("order", type=Path)
    ap.add_argument("--workers", type=int, default=3)
    args = ap.parse_args()
    times = read_times(args.log)
    order = [line.strip() for line in args.order.read_text().splitlines() if "::" in line]
    old = [[t] for t in sorted(order, key=lambda t: t.split("::")[0])]  # stable: each file's tests in their order
    groups: dict[str, list[str]] = {}
    for t in order:
        groups.setdefault(group_of(t), []).append(t)
    print(f"{len(times)} of {len(order)} tests timed, {sum(times.values()):.0f} s in all")
    for n in (args.workers, args.workers + 1):
        print(f"{n} workers: old schedule {replay(old, times, n, 2):.0f} s, "
              f"new schedule {replay(list(groups.values()), times, n, 1):.0f} s")


if __name__ == "__main__":
    main()
