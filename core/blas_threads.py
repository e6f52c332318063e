"""How many threads the BLAS library uses: chosen by timing the work as it runs.

Owns ``ThreadChooser`` (times steps under 1 and under all BLAS threads, keeps the
faster, and measures again when step times drift or every few seconds while the
machine has a spare core), ``limited`` (other work under the latest choice),
``parse_setting``, ``SpareCores`` and the process's ``BlasPool``. Imports
threadpoolctl and the standard library only; never Qt, never prints.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

AUTO = "auto"
# The first probe: as soon as the machine's load is known (SpareCores: at least
# MIN_SECONDS of /proc/stat's counters, which may start before the loop, see
# there) and FIRST_PROBE_DELAY after the first step (which allocates the loop's
# buffers), and only if the machine left SPARE_NEEDED of a core spare; otherwise
# one thread is the choice at once (a probe step with all threads on a machine
# without a spare core measured 40-250 ms against 3 ms, and an auto run that
# probed once lost 30% to one thread over 2 s runs). Until then, one thread.
FIRST_PROBE_DELAY = 0.05
# Probing: blocks of BLOCK steps, one thread then all of them, then all of them
# and one (ABBA, so that a steady change of load hits both alike). Blocks, not
# single steps: right after a switch the caches hold the other count's data and,
# on a busy machine, a one-thread step after all-thread ones runs several times
# slower (the other threads still spin, and the scheduler makes the training
# thread wait for the CPU time it just burnt); alternating step by step measured
# the cost of switching instead of the counts. The lower median wins after
# PROBE_PAIRS pairs of blocks, or, while the two are within CLOSE_RATIO, after up
# to MAX_PAIRS (a close call costs little to measure longer). One thread wins at
# once when the mean step with more threads is CLEAR_RATIO times slower than one
# thread's median: on a busy machine one step with all threads can cost 30
# ordinary ones, and it is the slow ones that make up the total. The first step
# of a loop, which allocates its buffers, comes long before.
BLOCK = 4
PROBE_PAIRS = 3
MAX_PAIRS = 6
CLOSE_RATIO = 1.1
CLEAR_RATIO = 3.0
# Measure again after PROBE_INTERVAL seconds, doubled (up to MAX_INTERVAL) each
# time a probe confirms the choice, and never so soon that probing costs more than
# PROBE_SHARE of the time. A probe's cost is the time its steps took beyond the
# winner's median and, when one thread won, the CPU time OpenBLAS's other threads
# used in its all-thread steps: on a machine without an idle core one step with
# all threads can take a tenth of a second or more, with the threads spinning
# through most of it waiting for each other, CPU time taken from the other
# programs (or from training, as the scheduler evens out). While one thread is
# in use, a probe that is due is made only if the machine left at least
# SPARE_NEEDED of a core spare since the last decision (more threads need a free
# core: on a machine without one, measured, a 128x526 by 526x256 product took
# 23 ms with two threads against 0.6 ms with one). With more than one thread,
# also as soon as the median of the last WINDOW steps exceeds that of the first
# WINDOW steps after the decision by a factor 1 + DRIFT (another program took a
# core, and every step may now wait for it), or exceeds one thread's median.
# One thread is not watched: others' load barely slows it, while its step times
# under load vary too much to tell when the load has gone (the interval and the
# spare cores find out).
PROBE_INTERVAL = 5.0
MAX_INTERVAL = 20.0
# One thread that wins on an idle machine (within IDLE_SLACK) is measured again
# after IDLE_RECHECK seconds (doubled while confirmed): there, all threads lose to
# something passing. Measured on the 2-core VM: a probe's two-thread steps took
# 2.6-3.7 ms against 1.4 ms just before and after, and 2 of 6 idle runs of 1.4 s
# stayed on one thread, 35% slower, until their end.
IDLE_RECHECK = 1.0
PROBE_SHARE = 0.03
WINDOW = 8
DRIFT = 0.5
SPARE_NEEDED = 0.5
# A close call (within CLOSE_RATIO) on a machine that left all but IDLE_SLACK of a
# core spare goes to all threads, OpenBLAS's own default: two threads are only
# 1.15-1.35x faster on the 2-core VM and noisy, and a close call that went to one
# thread cost idle runs 7-8% against all threads (bench.busy). With other programs
# busy the faster median wins, as more threads are the risk there.
IDLE_SLACK = 0.25

Setting = int | str | None


def parse_setting(value: int | str | None) -> Setting:
    """Return a thread setting: ``"auto"``, a whole number >= 1, or None.

    Parameters
    ----------
    value : int, str or None
        ``"auto"`` (any case), a count such as ``2`` or ``"2"``, or None
        (leave the BLAS library as it is).

    Raises
    ------
    ValueError
        For anything else, with a message for the user.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text == AUTO:
            return AUTO
        value = int(text) if text.isdigit() else text
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"threads must be 'auto' or a whole number >= 1, got {value!r}"
        )
    return value


class BlasPool:
    """The BLAS libraries NumPy calls, as threadpoolctl finds them in this process.

    OpenBLAS built with pthreads (NumPy's wheels) keeps one thread pool for the
    whole process, so a count set from any thread applies to every thread; all
    changes go through one lock here. The libraries are looked up on first use.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._libraries: list | None = None
        self._size: int | None = None

    def _load(self) -> list:
        if self._libraries is None:
            found = ThreadpoolController().select(user_api="blas").lib_controllers
            self._size = max((lib.get_num_threads() or 1 for lib in found), default=0)
            self._libraries = found
        return self._libraries

    @property
    def size(self) -> int | None:
        """Return the count the libraries had when first seen, or None.

        That is all cores, or the environment's ``OPENBLAS_NUM_THREADS``; None
        when threadpoolctl finds no BLAS library it can steer.
        """
        with self._lock:
            self._load()
            return self._size or None

    def current(self) -> int | None:
        """Return the count in force now, or None without a library to steer."""
        with self._lock:
            libraries = self._load()
            return libraries[0].get_num_threads() if libraries else None

    def apply(self, threads: int) -> int | None:
        """Use ``threads`` from now on, in every thread; return the count in force."""
        with self._lock:
            libraries = self._load()
            for lib in libraries:
                if lib.get_num_threads() != threads:
                    lib.set_num_threads(threads)
                    # threadpoolctl >= 3.8 lets only the thread that last set the
                    # OpenBLAS count set it again, until that thread lets go; the
                    # lock above already keeps threads from fighting.
                    release = getattr(type(lib), "clear_controlling_thread", None)
                    if release is not None:
                        release()
            return libraries[0].get_num_threads() if libraries else None


POOL = BlasPool()
_latest: int | None = None


class SpareCores:
    """Cores this process could add to one busy thread of its own (Linux).

    That is the cores the machine left idle plus those this process used, less
    one: what other programs leave beyond the training thread. From the
    ``idle`` and ``iowait`` times of ``/proc/stat`` and the process's CPU time.
    Calling the object returns the spare cores since the previous call (None
    where the file cannot be read, or for an interval shorter than
    `MIN_SECONDS`, too short for the counters' 10 ms ticks; that interval goes
    on) and starts a new interval.

    The first interval starts at the latest of the process's recent readings
    (any meter's, kept `MAX_AGE` seconds) that is `MIN_SECONDS` old, or the
    oldest of them when none is: a loop started right after other work (the
    CLI's start, the previous run) knows the load at once. Own CPU time is
    counted as spare because those readings may span this process's own
    multi-threaded work.

    Parameters
    ----------
    path : str
        The kernel's statistics file.
    clock : callable, optional
        Seconds, monotonic; ``time.perf_counter`` by default.
    own_cpu : callable, optional
        CPU seconds of this process; ``time.process_time`` by default.
    """

    MIN_SECONDS = 0.5
    MAX_AGE = 5.0
    _recent: deque[tuple[float, float, float]] = deque(maxlen=16)
    _recent_lock = threading.Lock()

    def __init__(
        self,
        path: str = "/proc/stat",
        clock: Callable[[], float] = time.perf_counter,
        own_cpu: Callable[[], float] = time.process_time,
    ) -> None:
        self._path = path
        self._clock = clock
        self._own_cpu = own_cpu
        self._ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        # Readings of other meters share the history only with the defaults.
        self._shared = path == "/proc/stat" and clock is time.perf_counter
        now = self._reading()
        self._start = self._recent_start(now) if now is not None else None

    def _reading(self) -> tuple[float, float, float] | None:
        try:
            with open(self._path, encoding="ascii") as stat:
                fields = stat.readline().split()
            idle = (int(fields[4]) + int(fields[5])) / self._ticks
        except (OSError, ValueError, IndexError):
            return None
        reading = (self._clock(), idle, self._own_cpu())
        if self._shared:
            with self._recent_lock:
                self._recent.append(reading)
        return reading

    def _recent_start(self, now: tuple[float, float, float]):
        if not self._shared:
            return now
        with self._recent_lock:
            recent = [r for r in self._recent if now[0] - r[0] <= self.MAX_AGE]
        old_enough = [r for r in recent if now[0] - r[0] >= self.MIN_SECONDS]
        return max(old_enough) if old_enough else min(recent, default=now)

    def wait(self) -> float:
        """Return the seconds until the current interval is long enough."""
        if self._start is None:
            return 0.0
        return max(0.0, self.MIN_SECONDS - (self._clock() - self._start[0]))

    def __call__(self) -> float | None:
        """Return the spare cores since the last call, and start a new interval."""
        start = self._start
        if start is not None and self._clock() - start[0] < self.MIN_SECONDS:
            return None
        now = self._reading()
        self._start = now
        if start is None or now is None:
            return None
        seconds = now[0] - start[0]
        idle, own = now[1] - start[1], now[2] - start[2]
        return max(0.0, (idle + own) / seconds - 1.0)


SpareCores()  # the process's first reading: a loop's first interval can start here


def other_threads_cpu() -> float:
    """Return the CPU seconds of this process's threads other than the calling one."""
    return time.process_time() - time.thread_time()


def latest_choice() -> int | None:
    """Return the count that the last automatic choice in this process picked."""
    return _latest


@contextmanager
def limited(setting: Setting = AUTO, pool: BlasPool | None = None) -> Iterator[None]:
    """Run a block of BLAS work with the given setting.

    ``"auto"`` takes `latest_choice` (1 thread when nothing was measured yet:
    on a busy machine all threads can be many times slower, while one thread
    costs little on an idle one); a number fixes the count; None changes
    nothing. The count stays in force after the block (it is process-wide:
    every user sets it before its work).
    """
    setting = parse_setting(setting)
    threads = (_latest or 1) if setting == AUTO else setting
    if threads is not None:
        (pool or POOL).apply(threads)
    yield


class ThreadChooser:
    """Pick the BLAS thread count for a loop of similar steps by timing them.

    Wrap every step in ``with chooser.step():``. With a fixed count the count
    is set before each step (another thread may have changed it) and nothing is
    measured. With ``"auto"``, steps use 1 thread until the machine's load is
    known (`SpareCores`) and for at least `FIRST_PROBE_DELAY` seconds; then, if
    the machine left `SPARE_NEEDED` of a core spare (or that is unknown), blocks
    of `BLOCK` steps alternate between 1 thread and all of them (`PROBE_PAIRS`
    pairs of blocks, up to `MAX_PAIRS` in a close call; 1 thread wins at once
    when all threads are `CLEAR_RATIO` times slower) and the lower median wins
    (a close call on an idle machine, within `IDLE_SLACK`, goes to all threads).
    The probe is repeated after `PROBE_INTERVAL` seconds (`IDLE_RECHECK` when one
    thread won on an idle machine; doubling,
    up to `MAX_INTERVAL`, while the choice holds; longer when the last probe
    cost more than `PROBE_SHARE` of that) and, when all threads won, as soon as
    the median of the last `WINDOW` steps grows by more than `DRIFT` or exceeds
    the 1-thread median. While one thread is in use, a probe that is due waits
    (another interval) unless the machine left `SPARE_NEEDED` of a core spare
    meanwhile. With None nothing is set or measured.

    Parameters
    ----------
    setting : int, "auto" or None
        See `parse_setting`.
    pool : BlasPool, optional
        The process's pool by default.
    clock : callable, optional
        Seconds, monotonic; ``time.perf_counter`` by default.
    cpu_clock : callable, optional
        CPU seconds used by the process's threads other than the calling one
        (OpenBLAS's workers); `other_threads_cpu` by default.
    spare : SpareCores, optional
        Called, the spare cores since its previous call (None when unknown);
        ``wait()``, the seconds until it can tell. A `SpareCores` by default.
    start : int, optional
        In ``"auto"`` mode, begin with this count and measure only after the
        first interval (e.g. ``latest_choice()`` for short work after training).

    Attributes
    ----------
    choice : int or None
        The count decided so far (the fixed one, the measured winner), None
        before the first decision or when not managed. Steps that probe use
        the other count; `choice` does not flicker with them.
    """

    def __init__(
        self,
        setting: Setting = AUTO,
        pool: BlasPool | None = None,
        clock: Callable[[], float] = time.perf_counter,
        start: int | None = None,
        cpu_clock: Callable[[], float] | None = None,
        spare: SpareCores | None = None,
    ) -> None:
        self._pool = pool or POOL
        self._cpu_clock = cpu_clock or other_threads_cpu
        self._spare = spare if spare is not None else SpareCores(clock=clock)
        self.setting = parse_setting(setting)
        if self.setting is not None and self._pool.size is None:
            self.setting = None  # no BLAS library that threadpoolctl can steer
        self._clock = clock
        self._candidates: tuple[int, ...] = ()
        self.choice: int | None = None
        if isinstance(self.setting, int):
            self.choice = self.setting
        elif self.setting == AUTO:
            size = self._pool.size
            self._candidates = tuple(sorted({1, size or 1}))
            if len(self._candidates) == 1 or start is not None:
                self.choice = start or self._candidates[0]
        self._interval = PROBE_INTERVAL
        first = self.setting == AUTO and self.choice is None
        self._next_probe = clock() + (
            max(FIRST_PROBE_DELAY, self._spare.wait()) if first else self._interval
        )
        self._pending: deque[int] = deque()
        self._samples: dict[int, list[float]] | None = None
        # CPU seconds the other threads used in this probe's all-thread steps.
        self._burnt = 0.0
        self._pairs = 0
        self._baseline: float | None = None
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._one_thread = float("inf")
        self._spare_seen: float | None = None

    @property
    def probing(self) -> bool:
        """True while steps alternate between the candidate counts."""
        return self._samples is not None

    @contextmanager
    def step(self) -> Iterator[None]:
        """Set the count for one step, and time the step when measuring."""
        if self.setting is None:
            yield
            return
        threads = self._next_threads()
        self._pool.apply(threads)
        if not self._candidates or len(self._candidates) == 1:
            yield
            return
        # The CPU clock only where a probe needs it: reading it (a system call
        # summing the process's threads) every step made one-thread training 7%
        # slower with two busy programs on the 2-core VM (bench/RESULTS.md).
        wide_probe = self._samples is not None and threads > self._candidates[0]
        cpu = self._cpu_clock() if wide_probe else 0.0
        started = self._clock()
        yield
        now = self._clock()
        if wide_probe:
            self._burnt += max(0.0, self._cpu_clock() - cpu)
        self._record(threads, now - started, now)

    def _next_threads(self) -> int:
        if self._samples is None:
            return self.choice or self._candidates[0]
        if not self._pending:
            order = self._candidates if self._pairs % 2 == 0 else self._candidates[::-1]
            for threads in order:
                self._pending.extend([threads] * BLOCK)
        return self._pending[0]

    def _start_probe(self) -> None:
        self._samples = {threads: [] for threads in self._candidates}
        self._pending.clear()
        self._pairs = 0
        self._burnt = 0.0

    def _record(self, threads: int, seconds: float, now: float) -> None:
        if self._samples is not None:
            self._pending.popleft()
            self._samples[threads].append(seconds)
            if not self._pending:
                self._pairs += 1
            self._maybe_decide(now)
            return
        fewest = self._candidates[0]
        if self.choice is not None and self.choice > fewest:
            self._recent.append(seconds)
        if len(self._recent) == WINDOW:
            median = statistics.median(self._recent)
            if self._baseline is None:
                self._baseline = median
            if median > min(self._baseline * (1 + DRIFT), self._one_thread):
                self._interval = PROBE_INTERVAL
                self._start_probe()
                return
        if now >= self._next_probe:
            if self.choice in (None, fewest):
                spare = self._read_spare()
                if spare is not None and spare < SPARE_NEEDED:
                    global _latest
                    self.choice = _latest = fewest
                    self._next_probe = now + self._interval
                    return
            self._start_probe()

    def _maybe_decide(self, now: float) -> None:
        fewest, *others = self._candidates
        if not all(self._samples.values()):
            return
        one = statistics.median(self._samples[fewest])
        means = {t: statistics.fmean(self._samples[t]) for t in others}
        clear = min(means.values()) >= CLEAR_RATIO * one
        close = False
        if not clear:
            if self._pending:
                return  # decide on whole pairs of blocks
            medians = {t: statistics.median(self._samples[t]) for t in others}
            other = min(others, key=medians.get)
            slower, faster = sorted((one, medians[other]), reverse=True)
            close = slower / max(faster, 1e-12) < CLOSE_RATIO
            if self._pairs < (MAX_PAIRS if close else PROBE_PAIRS):
                return
        global _latest
        # The spare cores during the probe (or when last known); they are counted
        # anew from here.
        self._read_spare()
        spare = self._spare_seen
        idle = spare is not None and spare >= max(others) - 1 - IDLE_SLACK
        if clear:
            best = fewest
        elif close and idle:
            best = other  # a close call on an idle machine: all threads, as before
        else:
            best = fewest if medians[other] >= one else other
        winner = one if best == fewest else medians[other]
        cost = sum(
            max(0.0, seconds - winner)
            for steps in self._samples.values()
            for seconds in steps
        )
        if best == fewest and not idle:  # idle, the CPU they burnt was spare
            cost += self._burnt
        confirmed = best == self.choice
        self.choice = _latest = best
        self._one_thread = one
        self._samples = None
        self._recent.clear()
        self._baseline = None
        if confirmed:
            self._interval = min(2 * self._interval, MAX_INTERVAL)
        elif best == fewest and idle:
            self._interval = IDLE_RECHECK
        else:
            self._interval = PROBE_INTERVAL
        self._next_probe = now + max(self._interval, cost / PROBE_SHARE)

    def _read_spare(self) -> float | None:
        """Return the spare cores since the last reading (None: unknown), kept."""
        spare = self._spare()
        if spare is not None:
            self._spare_seen = spare
        return spare
