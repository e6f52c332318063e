import os
import threading
import time
from collections import deque

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from core import blas_threads
from core.blas_threads import (
    BLOCK,
    CLEAR_RATIO,
    DRIFT,
    FIRST_PROBE_DELAY,
    IDLE_RECHECK,
    MAX_INTERVAL,
    MAX_PAIRS,
    PROBE_INTERVAL,
    PROBE_PAIRS,
    PROBE_SHARE,
    SPARE_NEEDED,
    WINDOW,
    SpareCores,
    ThreadChooser,
    limited,
    parse_setting,
)
from core.datasets import Dataset
from core.metrics import evaluate, loss_and_accuracy
from core.training import (
    BatchEvent,
    EpochEvent,
    FinishedEvent,
    TrainingConfig,
    train,
)


class FakePool:
    """Records every count applied; ``size`` threads are available."""

    def __init__(self, size=2):
        self.size = size
        self.current = size
        self.applied = []

    def apply(self, threads):
        self.applied.append(threads)
        self.current = threads
        return threads


class FakeClock:
    """Wall seconds, other threads' CPU seconds, and the spare cores reported.

    The spare cores are known from ``known_at`` (wall seconds) on.
    """

    def __init__(self):
        self.now = 100.0
        self.cpu_now = 10.0
        self.spare_cores = 1.0
        self.known_at = self.now

    def __call__(self):
        return self.now

    def cpu(self):
        return self.cpu_now


class FakeMeter:
    """A `SpareCores` that reports what ``clock`` says."""

    def __init__(self, clock):
        self.clock = clock

    def __call__(self):
        clock = self.clock
        return clock.spare_cores if clock.now >= clock.known_at else None

    def wait(self):
        return max(0.0, self.clock.known_at - self.clock.now)


class UnknownLoad:
    """A spare-core meter that cannot tell: probes go ahead."""

    def __init__(self, **_):
        pass

    def __call__(self):
        return None

    def wait(self):
        return 0.0


def _make(setting, pool, clock, **options):
    return ThreadChooser(
        setting,
        pool=pool,
        clock=clock,
        cpu_clock=clock.cpu,
        spare=FakeMeter(clock),
        **options,
    )


def _steps(chooser, pool, clock, seconds, count, cpu=None):
    """Run ``count`` steps; ``seconds[threads]`` is how long a step takes.

    ``cpu[threads]`` is the CPU time other threads use in a step (none by default).
    """
    used = []
    for _ in range(count):
        with chooser.step():
            used.append(pool.current)
            clock.now += seconds[pool.current]
            clock.cpu_now += (cpu or {})[pool.current] if cpu else 0.0
    return used


def _chooser(size=2):
    """An automatic chooser whose first probe has just begun (on an idle machine)."""
    pool, clock = FakePool(size), FakeClock()
    chooser = _make("auto", pool, clock)
    _steps(chooser, pool, clock, {1: FIRST_PROBE_DELAY, 2: 0.010}, 1)
    return chooser, pool, clock


def _probe(chooser, pool, clock, seconds, pairs=PROBE_PAIRS, cpu=None):
    """The steps of a probe of ``pairs`` pairs of blocks."""
    return _steps(chooser, pool, clock, seconds, 2 * BLOCK * pairs, cpu)


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture(autouse=True)
def no_shared_choice(monkeypatch):
    monkeypatch.setattr(blas_threads, "_latest", None)


@pytest.mark.parametrize(
    ("seconds", "winner", "pairs", "spare"),
    [
        ({1: 0.010, 2: 0.006}, 2, PROBE_PAIRS, 1.0),
        ({1: 0.010, 2: 0.0105}, 1, MAX_PAIRS, 0.6),  # another program is busy
        ({1: 0.0105, 2: 0.010}, 2, MAX_PAIRS, 1.0),
    ],
)
def test_auto_picks_the_faster_count(seconds, winner, pairs, spare):
    chooser, pool, clock = _chooser()
    clock.spare_cores = spare
    assert chooser.probing and chooser.choice is None
    _steps(chooser, pool, clock, seconds, 2 * BLOCK * pairs - 1)
    assert chooser.probing
    _steps(chooser, pool, clock, seconds, 1)
    assert not chooser.probing
    assert chooser.choice == winner
    assert blas_threads.latest_choice() == winner
    assert _steps(chooser, pool, clock, seconds, 5) == [winner] * 5


@pytest.mark.parametrize(("spare", "winner"), [(1.0, 2), (0.8, 2), (0.6, 1), (None, 1)])
def test_a_close_call_on_an_idle_machine_goes_to_all_threads(spare, winner):
    pool, clock = FakePool(), FakeClock()
    clock.spare_cores = spare
    meter = FakeMeter(clock) if spare is not None else UnknownLoad()
    chooser = ThreadChooser("auto", pool, clock, cpu_clock=clock.cpu, spare=meter)
    _steps(chooser, pool, clock, {1: FIRST_PROBE_DELAY, 2: 0.010}, 1)
    _probe(chooser, pool, clock, {1: 0.010, 2: 0.0105}, MAX_PAIRS)
    assert chooser.choice == winner


def test_one_thread_wins_a_clear_call_on_an_idle_machine():
    chooser, pool, clock = _chooser()
    _probe(chooser, pool, clock, {1: 0.010, 2: 0.0125})  # beyond CLOSE_RATIO
    assert chooser.choice == 1


def test_one_thread_until_the_first_probe():
    pool, clock = FakePool(), FakeClock()
    chooser = _make("auto", pool, clock)
    steps = int(FIRST_PROBE_DELAY / 0.010) - 1
    # Before the delay: one thread, nothing decided, nothing measured.
    assert _steps(chooser, pool, clock, {1: 0.010, 2: 0.006}, steps) == [1] * steps
    assert chooser.choice is None and not chooser.probing
    _steps(chooser, pool, clock, {1: 0.010, 2: 0.006}, 1)
    assert chooser.probing
    _probe(chooser, pool, clock, {1: 0.010, 2: 0.006})
    assert chooser.choice == 2


def test_no_spare_core_at_the_start_means_one_thread_without_a_probe():
    pool, clock = FakePool(), FakeClock()
    clock.spare_cores = SPARE_NEEDED - 0.1
    chooser = _make("auto", pool, clock)
    steps = int(FIRST_PROBE_DELAY / 0.010) + 1
    assert _steps(chooser, pool, clock, {1: 0.010, 2: 0.006}, steps) == [1] * steps
    assert chooser.choice == 1 and not chooser.probing
    assert blas_threads.latest_choice() == 1
    # Checked again at the next interval: the other programs have gone.
    clock.spare_cores = 1.0
    clock.now += PROBE_INTERVAL
    _steps(chooser, pool, clock, {1: 0.010, 2: 0.006}, 1)
    assert chooser.probing


def test_probe_alternates_blocks_abba():
    chooser, pool, clock = _chooser()
    used = _probe(chooser, pool, clock, {1: 0.010, 2: 0.006})
    blocks = [used[i : i + BLOCK] for i in range(0, len(used), BLOCK)]
    assert all(len(set(block)) == 1 for block in blocks)
    assert [block[0] for block in blocks] == [1, 2, 2, 1, 1, 2][: len(blocks)]


def test_medians_ignore_one_slow_step():
    """One step of all threads hit by a one-off delay does not lose the probe."""
    chooser, pool, clock = _chooser()
    slow_once = {"done": False}
    for _ in range(2 * BLOCK * PROBE_PAIRS):
        with chooser.step():
            seconds = 0.010 if pool.current == 1 else 0.006
            if (
                pool.current == 2
                and len(pool.applied) > BLOCK + 3
                and not slow_once["done"]
            ):
                slow_once["done"] = True
                seconds = 0.020
            clock.now += seconds
    assert slow_once["done"] and chooser.choice == 2


@pytest.mark.parametrize("slowed", [1, 2])
def test_blocks_keep_the_cost_of_switching_out_of_the_medians(slowed):
    """Right after a switch steps run slow (caches, spinning threads).

    Here the two steps after a switch to ``slowed`` threads take 15 ms more;
    ``slowed`` is also the count that is faster in steady steps. Step-by-step
    alternation would charge it a switch at every step; blocks do not.
    """
    chooser, pool, clock = _chooser()
    steady = {slowed: 0.008, 3 - slowed: 0.010}
    history = [1, 1]
    while chooser.probing:
        with chooser.step():
            threads = pool.current
            after_switch = history[-1] != threads or history[-2] != threads
            extra = 0.015 if after_switch and threads == slowed else 0.0
            history.append(threads)
            clock.now += steady[threads] + extra
    assert chooser.choice == slowed


def test_one_thread_wins_at_once_when_all_threads_are_much_slower():
    chooser, pool, clock = _chooser()
    used = _steps(chooser, pool, clock, {1: 0.002, 2: 0.002 * CLEAR_RATIO * 1.1}, 5)
    assert used == [1, 1, 1, 1, 2]
    assert not chooser.probing and chooser.choice == 1


def test_now_and_then_very_slow_steps_with_all_threads_end_the_probe():
    """Quick steps with all threads do not hide the slow ones that cost the time."""
    chooser, pool, clock = _chooser()
    durations = iter([0.002, 0.002, 0.002, 0.060] + [0.002] * 50)
    used = []
    while chooser.probing:
        with chooser.step():
            used.append(pool.current)
            clock.now += next(durations) if pool.current == 2 else 0.004
    assert chooser.choice == 1
    assert used.count(2) == 4  # not all PROBE_PAIRS pairs


def test_more_threads_never_win_early():
    chooser, pool, clock = _chooser()
    seconds = {1: 0.002 * CLEAR_RATIO * 2, 2: 0.002}
    _probe(chooser, pool, clock, seconds, pairs=1)
    assert chooser.probing
    _steps(chooser, pool, clock, seconds, 2 * BLOCK * (PROBE_PAIRS - 1))
    assert chooser.choice == 2


def test_probes_again_after_the_interval_and_backs_off_while_confirmed():
    chooser, pool, clock = _chooser()
    clock.spare_cores = 0.6  # another program is busy
    seconds = {1: 0.004, 2: 0.009}
    _probe(chooser, pool, clock, seconds)
    assert chooser.choice == 1
    clock.now += PROBE_INTERVAL - 0.1
    _steps(chooser, pool, clock, seconds, 1)
    assert not chooser.probing
    clock.now += 0.2
    _steps(chooser, pool, clock, seconds, 1)
    assert chooser.probing
    assert 2 in _probe(chooser, pool, clock, seconds)
    assert chooser.choice == 1
    # Confirmed: the next probe waits twice as long.
    clock.now += 2 * PROBE_INTERVAL - 0.1
    _steps(chooser, pool, clock, seconds, 1)
    assert not chooser.probing
    clock.now += 0.2
    _steps(chooser, pool, clock, seconds, 1)
    assert chooser.probing
    for _ in range(6):
        _probe(chooser, pool, clock, seconds)
        clock.now += MAX_INTERVAL + 1
        _steps(chooser, pool, clock, seconds, 1)
    assert chooser._interval == MAX_INTERVAL


def test_one_thread_that_wins_on_an_idle_machine_is_measured_again_soon():
    """There all threads lose to something passing (the VM's other core taken)."""
    chooser, pool, clock = _chooser()
    _probe(chooser, pool, clock, {1: 0.004, 2: 0.0048})  # a cheap probe
    assert chooser.choice == 1
    clock.now += IDLE_RECHECK + 0.01
    _steps(chooser, pool, clock, {1: 0.004, 2: 0.003}, 1)
    assert chooser.probing
    _probe(chooser, pool, clock, {1: 0.004, 2: 0.003})
    assert chooser.choice == 2


def test_costly_probes_wait_longer():
    """A probe step with all threads that costs 100 ordinary steps is made rarely."""
    chooser, pool, clock = _chooser()
    seconds = {1: 0.004, 2: 0.400}
    _probe(chooser, pool, clock, seconds, pairs=1)
    assert chooser.choice == 1
    wait = (0.400 - 0.004) / PROBE_SHARE
    assert wait > PROBE_INTERVAL
    clock.now += wait - 0.1
    _steps(chooser, pool, clock, seconds, 1)
    assert not chooser.probing
    clock.now += 0.2
    _steps(chooser, pool, clock, seconds, 1)
    assert chooser.probing


@pytest.mark.parametrize("spare", [0.6, 1.0])
def test_cpu_burnt_by_all_threads_makes_the_next_probe_wait(spare):
    """All-thread steps that spin both threads cost the CPU time others lose.

    On an idle machine no one loses it: the next probe comes at `IDLE_RECHECK`.
    """
    chooser, pool, clock = _chooser()
    clock.spare_cores = spare
    seconds = {1: 0.004, 2: 0.020}
    _probe(chooser, pool, clock, seconds, pairs=1, cpu={1: 0.0, 2: 0.180})
    assert chooser.choice == 1
    # One all-thread step decided it (CLEAR_RATIO): 0.016 s beyond the winner's
    # wall time (alone, the usual interval), and 0.18 s of the other threads' CPU.
    wall_only = (0.020 - 0.004) / PROBE_SHARE
    wait = (0.016 + 0.180) / PROBE_SHARE
    assert wall_only < IDLE_RECHECK < PROBE_INTERVAL < wait
    if spare == 1.0:
        wait = IDLE_RECHECK
    clock.now += wait - 0.1
    _steps(chooser, pool, clock, seconds, 1)
    assert not chooser.probing
    clock.now += 0.2
    _steps(chooser, pool, clock, seconds, 1)
    assert chooser.probing


def test_the_cpu_clock_is_read_only_in_all_thread_probe_steps():
    """Reading it every step made busy one-thread training 7% slower."""
    pool, clock = FakePool(), FakeClock()
    reads = []

    def cpu():
        reads.append(pool.current)
        return clock.cpu_now

    chooser = ThreadChooser(
        "auto", pool=pool, clock=clock, cpu_clock=cpu, spare=FakeMeter(clock)
    )
    seconds = {1: 0.004, 2: 0.003}
    _steps(chooser, pool, clock, {1: FIRST_PROBE_DELAY, 2: 0.003}, 1)
    assert reads == []
    used = _probe(chooser, pool, clock, seconds)
    assert chooser.choice == 2
    assert reads == [2] * (2 * used.count(2))  # before and after each such step
    _steps(chooser, pool, clock, seconds, 20)
    assert len(reads) == 2 * used.count(2)


def test_no_probe_while_the_machine_has_no_spare_core():
    chooser, pool, clock = _chooser()
    seconds = {1: 0.004, 2: 0.080}
    _probe(chooser, pool, clock, seconds, pairs=1)
    assert chooser.choice == 1
    clock.spare_cores = SPARE_NEEDED - 0.1
    for _ in range(5):
        clock.now += PROBE_INTERVAL
        _steps(chooser, pool, clock, seconds, 1)
        assert not chooser.probing
    assert set(pool.applied[-5:]) == {1}
    # The other programs stop: at the next interval, measured again.
    clock.spare_cores = SPARE_NEEDED + 0.1
    clock.now += PROBE_INTERVAL
    _steps(chooser, pool, clock, seconds, 1)
    assert chooser.probing


def test_unknown_spare_cores_do_not_stop_probes():
    chooser, pool, clock = _chooser()
    seconds = {1: 0.004, 2: 0.080}
    _probe(chooser, pool, clock, seconds, pairs=1)
    clock.spare_cores = None
    clock.now += PROBE_INTERVAL
    _steps(chooser, pool, clock, seconds, 1)
    assert chooser.probing


def test_all_threads_are_probed_again_without_asking_for_spare_cores():
    """With all threads in use the machine is never idle: drift decides."""
    chooser, pool, clock = _chooser()
    seconds = {1: 0.030, 2: 0.006}
    _probe(chooser, pool, clock, seconds)
    assert chooser.choice == 2
    clock.spare_cores = 0.0
    clock.now += 100 * MAX_INTERVAL
    _steps(chooser, pool, clock, seconds, 1)
    assert chooser.probing


def _stat(path, idle, iowait):
    path.write_text(f"cpu  100 0 50 {idle} {iowait} 0 0 0 0 0\ncpu0 1 2 3 4 5\n")


def test_spare_cores_come_from_the_kernels_counters_and_own_cpu(tmp_path):
    stat, clock = tmp_path / "stat", FakeClock()
    own = [5.0]
    ticks = SpareCores()._ticks
    _stat(stat, 1000, 10)
    meter = SpareCores(str(stat), clock=clock, own_cpu=lambda: own[0])
    assert meter.wait() == pytest.approx(SpareCores.MIN_SECONDS)
    clock.now += 2.0
    own[0] += 1.0
    _stat(stat, 1000 + int(1.5 * ticks), 10 + int(0.5 * ticks))
    assert meter.wait() == 0.0
    # One core idle and one used by this process, over 2 s: half a core spare
    # beside the calling thread.
    assert meter() == pytest.approx(0.5)
    clock.now += 0.1
    assert meter() is None  # too short for 10 ms ticks; the interval goes on
    clock.now += 1.9
    own[0] += 1.9
    assert meter() == pytest.approx(0.0)  # others took the second core
    stat.unlink()
    clock.now += 2.0
    assert meter() is None


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux counters")
def test_the_first_interval_starts_at_a_recent_reading(monkeypatch):
    monkeypatch.setattr(SpareCores, "_recent", deque(maxlen=16))
    SpareCores()
    assert SpareCores().wait() > SpareCores.MIN_SECONDS - 0.1  # just read: wait
    idle, own = SpareCores._recent[-1][1:]
    SpareCores._recent.append((time.perf_counter() - 1.0, idle - 1.0, own))
    meter = SpareCores()
    assert meter.wait() == 0.0
    spare = meter()
    assert spare is not None and 0.0 <= spare
    # Too old to tell about now: a new interval.
    SpareCores._recent.clear()
    SpareCores._recent.append((time.perf_counter() - 2 * SpareCores.MAX_AGE, 0, 0))
    assert SpareCores().wait() > SpareCores.MIN_SECONDS - 0.1


def test_one_thread_until_the_load_is_known():
    pool, clock = FakePool(), FakeClock()
    clock.known_at = clock.now + 0.3
    chooser = _make("auto", pool, clock)
    seconds = {1: 0.010, 2: 0.006}
    assert _steps(chooser, pool, clock, seconds, 29) == [1] * 29
    assert not chooser.probing
    _steps(chooser, pool, clock, seconds, 2)
    assert chooser.probing


def test_spare_cores_of_this_machine_are_within_its_cores():
    meter = SpareCores(clock=FakeClock())
    first = meter()
    assert first is None
    meter._clock.now += 1.0
    idle = meter()
    if os.path.exists("/proc/stat"):
        assert idle is not None and 0.0 <= idle
    else:
        assert idle is None


def test_a_changed_load_changes_the_choice_at_the_next_probe():
    chooser, pool, clock = _chooser()
    _probe(chooser, pool, clock, {1: 0.004, 2: 0.080}, pairs=1)
    assert chooser.choice == 1
    idle = {1: 0.010, 2: 0.006}
    clock.now += PROBE_INTERVAL
    _steps(chooser, pool, clock, idle, 1)
    _probe(chooser, pool, clock, idle)
    assert chooser.choice == 2


def test_a_slowdown_with_more_threads_probes_at_once():
    chooser, pool, clock = _chooser()
    idle = {1: 0.030, 2: 0.006}
    _probe(chooser, pool, clock, idle)
    _steps(chooser, pool, clock, idle, WINDOW)
    assert chooser.choice == 2 and not chooser.probing
    # Still faster than one thread, but slower than the first window by 1.5x.
    busy = {1: 0.030, 2: 0.006 * (1 + DRIFT) * 1.5}
    # The window's median moves once half of its steps are slow.
    used = _steps(chooser, pool, clock, busy, WINDOW // 2 - 1)
    assert not chooser.probing and used == [2] * (WINDOW // 2 - 1)
    _steps(chooser, pool, clock, busy, 1)
    assert chooser.probing
    assert clock.now - 100.0 < PROBE_INTERVAL


def test_more_threads_slower_than_one_thread_was_probe_again():
    """All threads that lose to the one-thread reference are measured again."""
    chooser, pool, clock = _chooser()
    _probe(chooser, pool, clock, {1: 0.010, 2: 0.006})
    assert chooser.choice == 2
    # Slower than one thread, though within the drift allowed for noise.
    _steps(chooser, pool, clock, {1: 0.010, 2: 0.0102}, WINDOW)
    assert chooser.probing
    _probe(chooser, pool, clock, {1: 0.010, 2: 0.040}, pairs=1)
    assert chooser.choice == 1


def test_noise_below_the_drift_threshold_does_not_probe():
    chooser, pool, clock = _chooser()
    _probe(chooser, pool, clock, {1: 0.010, 2: 0.006})
    _steps(chooser, pool, clock, {1: 0.010, 2: 0.006}, WINDOW)
    _steps(chooser, pool, clock, {1: 0.010, 2: 0.006 * (1 + DRIFT) * 0.9}, 50)
    assert not chooser.probing


def test_fixed_count_never_probes():
    pool, clock = FakePool(), FakeClock()
    chooser = _make(1, pool, clock)
    assert chooser.choice == 1 and not chooser.probing
    for _ in range(40):
        clock.now += PROBE_INTERVAL
        _steps(chooser, pool, clock, {1: 0.5, 2: 0.001}, 1)
    assert set(pool.applied) == {1} and len(pool.applied) == 40
    assert blas_threads.latest_choice() is None


def test_none_leaves_the_library_alone():
    pool, clock = FakePool(), FakeClock()
    chooser = _make(None, pool, clock)
    _steps(chooser, pool, clock, {1: 0.01, 2: 0.01}, 5)
    assert pool.applied == [] and chooser.choice is None


@pytest.mark.parametrize("setting", ["auto", 2])
def test_without_a_controllable_library_nothing_is_set(setting):
    pool, clock = FakePool(size=None), FakeClock()
    chooser = _make(setting, pool, clock)
    _steps(chooser, pool, clock, {None: 0.01}, 3)
    assert pool.applied == [] and chooser.choice is None


def test_a_single_core_is_used_without_probing():
    pool, clock = FakePool(size=1), FakeClock()
    chooser = _make("auto", pool, clock)
    assert chooser.choice == 1 and not chooser.probing
    _steps(chooser, pool, clock, {1: 0.01}, 3)
    assert pool.applied == [1, 1, 1]


def test_a_start_count_skips_the_first_probe():
    pool, clock = FakePool(), FakeClock()
    chooser = _make("auto", pool, clock, start=2)
    assert chooser.choice == 2 and not chooser.probing
    assert _steps(chooser, pool, clock, {1: 0.01, 2: 0.01}, 3) == [2, 2, 2]


def test_limited_uses_the_latest_choice_or_one_thread(monkeypatch):
    pool = FakePool()
    with limited("auto", pool=pool):
        pass
    monkeypatch.setattr(blas_threads, "_latest", 2)
    with limited("auto", pool=pool):
        pass
    with limited(1, pool=pool):
        pass
    with limited(None, pool=pool):
        pass
    assert pool.applied == [1, 2, 1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("auto", "auto"), (" AUTO ", "auto"), ("3", 3), (2, 2), (None, None)],
)
def test_parse_setting_accepts_counts_and_auto(value, expected):
    assert parse_setting(value) == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "", 0, 1.5, True])
def test_parse_setting_rejects_anything_else(value):
    with pytest.raises(ValueError, match="threads must be 'auto' or a whole number"):
        parse_setting(value)


# ------------------------------------------------------------ the real library


def test_the_count_is_in_force_during_each_step():
    size = blas_threads.POOL.size
    assert size is not None, "NumPy's BLAS should be controllable by threadpoolctl"
    for threads in sorted({1, size}):
        with ThreadChooser(threads).step():
            assert set(_blas_threads()) == {threads}


def test_auto_steps_use_both_counts_on_the_real_library(monkeypatch):
    monkeypatch.setattr(blas_threads, "FIRST_PROBE_DELAY", 0.0)
    chooser = ThreadChooser("auto", spare=UnknownLoad())  # however busy the machine
    if chooser.choice is not None:
        pytest.skip("one BLAS thread only: nothing to choose")
    seen = set()
    a = np.ones((64, 64), np.float32)
    while chooser.choice is None:
        with chooser.step():
            seen.update(_blas_threads())
            a @ a
    assert seen == {1, blas_threads.POOL.size}
    with chooser.step():
        assert _blas_threads() == [chooser.choice]


def test_a_count_set_in_another_thread_takes_effect():
    """OpenBLAS's count is process-wide: any thread may set it, one after another."""
    size = blas_threads.POOL.size
    other = 2 if size >= 2 else 1
    blas_threads.POOL.apply(1)
    assert set(_blas_threads()) == {1}
    seen = []

    def work():
        blas_threads.POOL.apply(other)
        seen.extend(_blas_threads())

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert set(seen) == {other}
    blas_threads.POOL.apply(1)
    assert set(_blas_threads()) == {1}


# ----------------------------------------------------- training and evaluation


def _data(count=300, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 8, 8), dtype=np.uint8)
    labels = rng.integers(0, 3, count).astype(np.uint8)
    return Dataset("noise", images, labels, ("a", "b", "c"), 255)


def _watched(network):
    """Record the BLAS count in force whenever the network trains or predicts."""
    seen = []
    for name in ("loss_and_gradients", "loss_and_probabilities"):
        method = getattr(network, name)

        def wrapper(*args, _method=method, **kwargs):
            seen.extend(_blas_threads())
            return _method(*args, **kwargs)

        setattr(network, name, wrapper)
    return seen


@pytest.mark.parametrize("which", ["one", "all"])
def test_train_runs_every_step_with_the_fixed_count_and_reports_it(which):
    threads = 1 if which == "one" else blas_threads.POOL.size
    blas_threads.POOL.apply(2 if threads == 1 else 1)
    config = TrainingConfig(hidden_sizes=(16,), epochs=2, batch_size=32)
    network = config.build_network(64, 3)
    seen = _watched(network)
    events = []
    result = train(network, _data(), None, config, events.append, threads=threads)
    assert seen and set(seen) == {threads}
    batches = [e for e in events if isinstance(e, BatchEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert {e.blas_threads for e in batches + epochs} == {threads}
    assert [h["blas_threads"] for h in result.history] == [threads, threads]


def test_train_without_a_setting_leaves_the_count_alone():
    blas_threads.POOL.apply(1)
    config = TrainingConfig(hidden_sizes=(16,), epochs=1, batch_size=32)
    network = config.build_network(64, 3)
    seen = _watched(network)
    events = []
    train(network, _data(), None, config, events.append)
    assert set(seen) == {1}
    assert {e.blas_threads for e in events if not isinstance(e, FinishedEvent)} == {
        None
    }


def test_train_auto_probes_both_counts_and_reports_only_decisions(monkeypatch):
    monkeypatch.setattr(blas_threads, "FIRST_PROBE_DELAY", 0.0)
    monkeypatch.setattr(blas_threads, "SpareCores", UnknownLoad)
    size = blas_threads.POOL.size
    if size == 1:
        pytest.skip("one BLAS thread only: nothing to choose")
    config = TrainingConfig(hidden_sizes=(16,), epochs=2, batch_size=8)
    network = config.build_network(64, 3)
    seen = _watched(network)
    events = []
    train(network, _data(), None, config, events.append, threads="auto")
    assert set(seen) == {1, size}
    reported = [e.blas_threads for e in events if isinstance(e, BatchEvent)]
    assert reported[0] is None  # still measuring
    decided = reported[1 + 2 * BLOCK * MAX_PAIRS :]
    assert decided and set(decided) <= {1, size}


def test_train_rejects_a_bad_setting():
    config = TrainingConfig(hidden_sizes=(4,), epochs=1)
    with pytest.raises(ValueError, match="threads must be"):
        train(config.build_network(64, 3), _data(), None, config, threads="many")


def test_evaluate_uses_the_given_count():
    config = TrainingConfig(hidden_sizes=(16,), epochs=1)
    network = config.build_network(64, 3)
    seen = _watched(network)
    blas_threads.POOL.apply(blas_threads.POOL.size)
    evaluate(network, _data(), batch_size=50, threads=1)
    assert seen and set(seen) == {1}
    seen.clear()
    loss_and_accuracy(network, _data(), batch_size=50, threads=blas_threads.POOL.size)
    assert set(seen) == {blas_threads.POOL.size}


def test_evaluate_auto_starts_from_the_latest_choice(monkeypatch):
    monkeypatch.setattr(blas_threads, "_latest", 1)
    network = TrainingConfig(hidden_sizes=(16,), epochs=1).build_network(64, 3)
    seen = _watched(network)
    evaluate(network, _data(), batch_size=50, threads="auto")
    assert set(seen) == {1}
