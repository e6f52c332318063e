"""How many threads the BLAS library uses: chosen by timing the work as it runs.

Owns ``ThreadChooser`` (times steps under 1 and under all BLAS threads, keeps the
faster, and measures again when step times drift or every few seconds),
``limited`` (other work under the latest choice), ``parse_setting`` and the
process's ``BlasPool``. Imports threadpoolctl and the standard library only;
never Qt, never prints.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

AUTO = "auto"
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
# of a loop (which allocates its buffers) is not measured.
BLOCK = 4
PROBE_PAIRS = 3
MAX_PAIRS = 6
CLOSE_RATIO = 1.1
CLEAR_RATIO = 3.0
# Measure again after PROBE_INTERVAL seconds, doubled (up to MAX_INTERVAL) each
# time a probe confirms the choice, and never so soon that probing (the time its
# steps took beyond the winner's median) costs more than PROBE_SHARE of the time:
# on a busy machine one probe step with all threads can take a tenth of a second
# or more. With more than one thread, also as soon as the median of the last
# WINDOW steps exceeds that of the first WINDOW steps after the decision by a
# factor 1 + DRIFT (another program took a core, and every step may now wait
# for it), or exceeds one thread's median. One thread is not watched: others'
# load barely slows it, while its step times under load vary too much to tell
# when the load has gone (the interval finds out).
PROBE_INTERVAL = 5.0
MAX_INTERVAL = 20.0
PROBE_SHARE = 0.03
WINDOW = 8
DRIFT = 0.5

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
    measured. With ``"auto"``, after an unmeasured first step, blocks of
    `BLOCK` steps alternate between 1 thread and all of them (`PROBE_PAIRS`
    pairs of blocks, up to `MAX_PAIRS` in a close call; 1 thread wins at once
    when all threads are `CLEAR_RATIO` times slower) and the lower median wins.
    The probe is repeated after `PROBE_INTERVAL` seconds (doubling,
    up to `MAX_INTERVAL`, while the choice holds; longer when the last probe
    cost more than `PROBE_SHARE` of that) and, when all threads won, as soon as
    the median of the last `WINDOW` steps grows by more than `DRIFT` or exceeds
    the 1-thread median. With None nothing is set or measured.

    Parameters
    ----------
    setting : int, "auto" or None
        See `parse_setting`.
    pool : BlasPool, optional
        The process's pool by default.
    clock : callable, optional
        Seconds, monotonic; ``time.perf_counter`` by default.
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
    ) -> None:
        self._pool = pool or POOL
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
        self._next_probe = clock() + self._interval
        self._pending: deque[int] = deque()
        self._samples: dict[int, list[float]] | None = None
        self._pairs = 0
        self._baseline: float | None = None
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._one_thread = float("inf")
        self._warming_up = False
        if self.setting == AUTO and self.choice is None:
            self._start_probe()
            self._warming_up = True

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
        if self._warming_up:
            self._pool.apply(self._candidates[0])
            yield
            self._warming_up = False
            return
        threads = self._next_threads()
        self._pool.apply(threads)
        if not self._candidates or len(self._candidates) == 1:
            yield
            return
        started = self._clock()
        yield
        now = self._clock()
        self._record(threads, now - started, now)

    def _next_threads(self) -> int:
        if self._samples is None:
            return self.choice
        if not self._pending:
            order = self._candidates if self._pairs % 2 == 0 else self._candidates[::-1]
            for threads in order:
                self._pending.extend([threads] * BLOCK)
        return self._pending[0]

    def _start_probe(self) -> None:
        self._samples = {threads: [] for threads in self._candidates}
        self._pending.clear()
        self._pairs = 0

    def _record(self, threads: int, seconds: float, now: float) -> None:
        if self._samples is not None:
            self._pending.popleft()
            self._samples[threads].append(seconds)
            if not self._pending:
                self._pairs += 1
            self._maybe_decide(now)
            return
        if self.choice > self._candidates[0]:
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
            self._start_probe()

    def _maybe_decide(self, now: float) -> None:
        fewest, *others = self._candidates
        if not all(self._samples.values()):
            return
        one = statistics.median(self._samples[fewest])
        means = {t: statistics.fmean(self._samples[t]) for t in others}
        clear = min(means.values()) >= CLEAR_RATIO * one
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
        best = fewest if clear or medians[other] >= one else other
        winner = one if best == fewest else medians[other]
        cost = sum(
            max(0.0, seconds - winner)
            for steps in self._samples.values()
            for seconds in steps
        )
        confirmed = best == self.choice
        self.choice = _latest = best
        self._one_thread = one
        self._samples = None
        self._recent.clear()
        self._baseline = None
        self._interval = (
            min(2 * self._interval, MAX_INTERVAL) if confirmed else PROBE_INTERVAL
        )
        self._next_probe = now + max(self._interval, cost / PROBE_SHARE)
