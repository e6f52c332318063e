"""How busy the machine was during a benchmark: load average and others' CPU time.

``LoadWatch`` is started before the timings and describes them afterwards: the
1-minute load average before and after, and (on Linux, from /proc/stat) the CPU
seconds that other processes used meanwhile, against what the cores could give.
``process_cpu_seconds`` reads one process's CPU time (e.g. a benchmark's own busy
loops, which a watch can leave out of "other processes").
"""

from __future__ import annotations

import os
import time

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds() -> tuple[float, float] | None:
    """CPU seconds used since boot by all processes, and stolen by the hypervisor.

    None off Linux.
    """
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal
    user, nice, system, _, _, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / _CLOCK_TICKS, steal / _CLOCK_TICKS


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def process_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used so far by process ``pid`` (Linux), None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def load_average() -> float | None:
    """The 1-minute load average, or None where the system has none."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


class LoadWatch:
    """Snapshot at creation; ``describe()`` tells how busy the machine was since.

    The benchmark's own CPU time (its children's once they have been waited
    for) is subtracted, and so is what ``exclude()`` returns (CPU seconds so far
    of processes the benchmark started to load the machine, such as busy loops):
    "others" means every other process.
    """

    def __init__(self, exclude=None) -> None:
        self.cores = os.cpu_count() or 1
        self._exclude = exclude or (lambda: 0.0)
        self._load = load_average()
        self._wall = time.perf_counter()
        self._cpu = _cpu_seconds()
        self._own = _own_cpu_seconds() + self._exclude()

    def shares(self) -> tuple[float, float] | None:
        """Shares of all cores' time since creation: other processes', stolen."""
        cpu = _cpu_seconds()
        if cpu is None or self._cpu is None:
            return None
        capacity = max((time.perf_counter() - self._wall) * self.cores, 1e-9)
        own = _own_cpu_seconds() + self._exclude() - self._own
        others = (cpu[0] - self._cpu[0]) - own
        return max(0.0, others) / capacity, (cpu[1] - self._cpu[1]) / capacity

    def describe(self) -> str:
        """E.g. ``load average 1.9 -> 3.2; other processes used 41% of 2 cores``."""
        before, after = self._load, load_average()
        if before is None or after is None:
            text = "load average unavailable"
        else:
            text = f"load average {before:.2f} -> {after:.2f}"
        shares = self.shares()
        if shares is not None:
            wall = time.perf_counter() - self._wall
            text += (
                f"; other processes used {100 * shares[0]:.0f}% of {self.cores} "
                f"cores over {wall:.0f} s"
            )
            if shares[1] >= 0.01:
                text += f", the hypervisor took {100 * shares[1]:.0f}%"
        return text


def balanced_order(settings: tuple, round_index: int) -> tuple:
    """The order of a round: each setting after each other equally often.

    Rotations of the settings, then of their reverse: over ``2 * len(settings)``
    rounds every setting runs in every place and right after every other one
    twice, so what one run leaves behind (spinning threads, a hot cache) falls
    on all of them alike.
    """
    count = len(settings)
    base = settings if (round_index // count) % 2 == 0 else settings[::-1]
    shift = round_index % count
    return base[shift:] + base[:shift]
