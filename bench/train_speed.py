"""Training speed: seconds per epoch against two matrix-product floors and PyTorch.

Run ``python -m bench.train_speed``. For 784-256-10 and 784-512-256-10 (ReLU,
softmax, Adam, batch 128, float32) on 60,000 images it times, in interleaved
rounds after a warm-up round: the engine's epoch; the dense GEMM floor (every
matrix product of the training steps at full size); the floor of the products the
engine actually computes (the first layer's two products over only the input
columns live in each minibatch, counted batch by batch, as `core.fast.BlankInputs`
does); and PyTorch CPU when ``import torch`` works. It prints medians with their
spread (min-max), ratios of medians, the BLAS kernel in use (threadpoolctl) and
how busy the machine was. A second pass repeats that table in a child process
with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset, so that OpenBLAS picks
the kernel for the CPU itself. Then: engine and PyTorch accuracy after one epoch
from the same initial weights, the augmentation's cost, Adam against momentum
SGD, and memory (peak RSS, page faults per epoch). ``DIGIT_STUDIO_NO_KERNELS=1``
times the engine without its compiled kernels.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info

from bench.machine import LoadWatch
from core import fast
from core.augment import AugmentConfig
from core.blas_threads import POOL, limited
from core.datasets import (
    Dataset,
    DatasetError,
    Normalization,
    load_bundled,
    stratified_split,
)
from core.fast import MAX_LIVE_SHARE
from core.metrics import evaluate
from core.network import MLP
from core.training import BatchEvent, EpochEvent, TrainingConfig, train

SAMPLES = 60_000
BATCH = 128
NETWORKS = ((256,), (512, 256))
# Issue 15's targets, medians of one run: epoch over the floor of the products
# actually computed, and over PyTorch's epoch.
TARGET_LIVE_FLOOR_RATIO = 1.25
TARGET_TORCH_RATIO = 0.45
TARGET_ACCURACY_GAP = 0.01  # engine and PyTorch after one epoch, same start
BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def build_dataset() -> tuple[Dataset, Dataset, str]:
    """60,000 training images and a held-out set that shares none of them.

    Full MNIST when it is in the user's data folder (its first 60,000 training
    images and its test set); otherwise the bundled sample, 10% held out
    (stratified) and the other 4,500 tiled to 60,000.
    """
    try:
        from core.dataset_store import load_dataset
        from core.user_dirs import data_dir

        train_set = load_dataset("mnist", data_dir())
        test = load_dataset("mnist", data_dir(), split="test")
        return train_set, test, "MNIST (downloaded), test split held out"
    except DatasetError:
        pass
    sample = load_bundled("mnist-sample")
    train_part, held_out = stratified_split(sample, 0.1, seed=0)
    repeats = math.ceil(SAMPLES / len(train_part))
    images = np.tile(train_part.images, (repeats, 1, 1))[:SAMPLES]
    labels = np.tile(train_part.labels, repeats)[:SAMPLES]
    source = (
        f"the bundled MNIST sample: {len(train_part):,} images tiled, "
        f"{len(held_out):,} held out"
    )
    tiled = Dataset("mnist-tiled", images, labels, sample.class_names)
    return tiled, held_out, source


def _faults() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt + usage.ru_majflt


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _spread(values: list[float], width: int = 6) -> str:
    return f"{_median(values):>{width}.3f} [{min(values):.3f}-{max(values):.3f}]"


def engine_epochs(
    dataset: Dataset, hidden: tuple[int, ...], epochs: int, threads, **settings
) -> tuple[list[float], float]:
    """Train ``epochs`` epochs; return each epoch's seconds and faults per epoch."""
    settings = {"batch_size": BATCH, **settings}
    config = TrainingConfig(hidden_sizes=hidden, epochs=epochs, **settings)
    network = MLP(config.layer_sizes(dataset.input_size, dataset.num_classes))
    seconds: list[float] = []
    faults: list[int] = [_faults()]

    def on_event(event) -> None:
        if isinstance(event, EpochEvent):
            seconds.append(event.seconds)
            faults.append(_faults())

    train(network, dataset, None, config, on_event, threads=threads)
    # The first epoch allocates the buffers; count the steady state.
    steady = np.diff(faults)[1:] if epochs > 1 else np.diff(faults)
    return seconds, float(np.mean(steady))


def engine_epoch_timer(dataset: Dataset, hidden: tuple[int, ...], threads, **settings):
    """Return a callable that trains one more epoch: ``() -> (seconds, faults)``.

    Each call is one ``train`` call of one epoch on the same network, so timings
    can be interleaved with the references; the first call allocates buffers.
    """
    config = TrainingConfig(hidden_sizes=hidden, batch_size=BATCH, epochs=1, **settings)
    network = MLP(config.layer_sizes(dataset.input_size, dataset.num_classes))
    seconds: list[float] = []
    faults: list[int] = []

    def on_event(event) -> None:
        # Faults are counted from the end of the first minibatch to the end of
        # the epoch: the steady state, without the run's one-off setup.
        if isinstance(event, BatchEvent) and event.batch_index == 0:
            faults.append(_faults())
        elif isinstance(event, EpochEvent):
            seconds.append(event.seconds)
            faults[-1] = _faults() - faults[-1]

    def epoch() -> tuple[float, int]:
        train(network, dataset, None, config, on_event, threads=threads)
        return seconds[-1], faults[-1]

    return epoch


def live_columns(dataset: Dataset, seed: int = 0) -> np.ndarray:
    """Inputs the first layer's products use, per minibatch of one shuffled epoch.

    As `core.fast.BlankInputs`: the columns nonzero somewhere in the minibatch, or all
    of them when more than `MAX_LIVE_SHARE` are.
    """
    pixels = dataset.input_size
    images = dataset.images.reshape(len(dataset), pixels)
    order = np.random.default_rng(seed).permutation(len(dataset))
    counts = []
    for start in range(0, len(dataset), BATCH):
        live = int(np.count_nonzero(images[order[start : start + BATCH]].any(axis=0)))
        counts.append(live if live <= int(MAX_LIVE_SHARE * pixels) else pixels)
    return np.array(counts)


def gemm_floor_timer(
    sizes: tuple[int, ...], live: np.ndarray | None = None, batch: int = BATCH
):
    """Return a callable timing one epoch of only the training steps' products.

    Per minibatch of ``batch``: the forward product of every layer, every weight
    gradient, and every input gradient but the first layer's (nothing needs it).
    With ``live`` (inputs per minibatch, from `live_columns`), the first layer's
    two products run over that many inputs, in compact arrays as the engine's.
    """
    rng = np.random.default_rng(0)
    weights = [
        rng.standard_normal((a, b), dtype=np.float32) * 0.05
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    batches = [batch] * (SAMPLES // batch) + (
        [SAMPLES % batch] if SAMPLES % batch else []
    )
    if live is None:
        live = np.full(len(batches), sizes[0])
    inputs_flat = rng.random(batch * sizes[0], dtype=np.float32)
    rows_flat = rng.random(sizes[0] * sizes[1], dtype=np.float32)
    buffers = {}
    for size in set(batches):
        acts = [np.empty((size, n), np.float32) for n in sizes[1:]]
        deltas = [rng.random((size, n), dtype=np.float32) for n in sizes[1:]]
        buffers[size] = (acts, deltas)
    grads = [np.empty_like(w) for w in weights]

    def epoch() -> float:
        started = time.perf_counter()
        for size, count in zip(batches, live, strict=True):
            acts, deltas = buffers[size]
            x = inputs_flat[: size * count].reshape(size, count)
            w0 = rows_flat[: count * sizes[1]].reshape(count, sizes[1])
            np.matmul(x, w0, out=acts[0])
            for i in range(1, len(weights)):
                np.matmul(acts[i - 1], weights[i], out=acts[i])
            for i in range(len(weights) - 1, 0, -1):
                np.matmul(acts[i - 1].T, deltas[i], out=grads[i])
                np.matmul(deltas[i], weights[i].T, out=deltas[i - 1])
            np.matmul(x.T, deltas[0], out=w0)
        return time.perf_counter() - started

    return epoch


def _torch_model(sizes: tuple[int, ...], network: MLP | None = None):
    import torch

    layers: list = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    if network is not None:
        linear = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
        with torch.no_grad():
            for layer, w, b in zip(
                linear, network.weights, network.biases, strict=True
            ):
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                layer.bias.copy_(torch.from_numpy(b))
    return model


def _torch_epoch(model, images, labels, generator, max_value: float):
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch() -> float:
        started = time.perf_counter()
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(labels), BATCH):
            index = order[start : start + BATCH]
            inputs = images[index].float().div_(max_value)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), labels[index])
            loss.backward()
            optimizer.step()
        return time.perf_counter() - started

    return epoch


def torch_epoch_timer(dataset: Dataset, sizes: tuple[int, ...], threads: int):
    """Return a callable timing one PyTorch epoch (Adam, batch 128), or None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = torch.from_numpy(dataset.images.reshape(len(dataset), -1))
    labels = torch.from_numpy(dataset.labels.astype(np.int64))
    generator = torch.Generator().manual_seed(0)
    return _torch_epoch(
        _torch_model(sizes), images, labels, generator, dataset.max_value
    )


def _kernel() -> str:
    """Which BLAS library and kernel NumPy uses, and the variables that steer it."""
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    names = ", ".join(
        f"{info['internal_api']} {info['version']} {info.get('architecture')}"
        for info in blas
    )
    variables = ", ".join(
        f"{name}={os.environ[name]}" if name in os.environ else f"{name} unset"
        for name in BLAS_VARIABLES
    )
    return f"{names or 'no BLAS found'} ({variables})"


def speed_table(
    dataset: Dataset, rounds: int, threads: int, use_torch: bool
) -> list[str]:
    """Time every network's engine, floors and PyTorch; return the table's lines."""
    live = live_columns(dataset)
    timers: dict[tuple[int, ...], dict] = {}
    for hidden in NETWORKS:
        sizes = (dataset.input_size, *hidden, dataset.num_classes)
        found = {
            "engine": engine_epoch_timer(dataset, hidden, threads),
            "dense": gemm_floor_timer(sizes),
            "live": gemm_floor_timer(sizes, live),
            "torch": torch_epoch_timer(dataset, sizes, threads) if use_torch else None,
        }
        timers[sizes] = {key: timer for key, timer in found.items() if timer}
    times = {sizes: {key: [] for key in found} for sizes, found in timers.items()}
    faults: dict[tuple[int, ...], list[int]] = {sizes: [] for sizes in timers}
    for round_index in range(rounds + 1):
        # Interleaved rounds in rotating order, across the networks too: a slow
        # spell of the machine hits the engine, the floors and PyTorch alike.
        for sizes, found in timers.items():
            keys = list(found)
            shift = round_index % len(keys)
            for key in keys[shift:] + keys[:shift]:
                with limited(threads):
                    result = found[key]()
                if key == "engine":
                    result, fault_count = result
                    if round_index:
                        faults[sizes].append(fault_count)
                if round_index:
                    times[sizes][key].append(result)
    share = live.mean() / dataset.input_size
    lines = [
        f"Inputs live per minibatch of {BATCH} (first layer's products): "
        f"{live.mean():.0f} of {dataset.input_size} on average ({share:.0%}), "
        f"{np.count_nonzero(live == dataset.input_size)} of {len(live)} batches "
        "in full.",
        f"{'network':<15}{'engine s':>23}{'dense floor':>23}{'live floor':>23}"
        f"{'x dense':>8}{'x live':>7}{'PyTorch s':>23}{'x torch':>8}{'faults':>7}",
    ]
    for sizes, measured in times.items():
        engine = _median(measured["engine"])
        name = "-".join(str(n) for n in sizes)
        line = (
            f"{name:<15}{_spread(measured['engine']):>23}"
            f"{_spread(measured['dense']):>23}{_spread(measured['live']):>23}"
            f"{engine / _median(measured['dense']):>8.2f}"
            f"{engine / _median(measured['live']):>7.2f}"
        )
        if "torch" in measured:
            torch_median = _median(measured["torch"])
            line += f"{_spread(measured['torch']):>23}{engine / torch_median:>8.2f}"
        else:
            line += f"{'-':>23}{'-':>8}"
        lines.append(line + f"{statistics.mean(faults[sizes]):>7,.0f}")
    lines.append(
        f"Seconds per epoch of {SAMPLES:,}, median [min-max] of {rounds} rounds; "
        "ratios are of medians; faults: page faults per steady-state epoch."
    )
    lines.append(
        f"Targets: engine <= {TARGET_LIVE_FLOOR_RATIO}x the live floor and "
        f"<= {TARGET_TORCH_RATIO}x PyTorch; verdicts: "
        + "; ".join(_verdicts(times))
        + "."
    )
    return lines


def _verdicts(times: dict) -> list[str]:
    verdicts = []
    for sizes, measured in times.items():
        engine = _median(measured["engine"])
        ok = engine / _median(measured["live"]) <= TARGET_LIVE_FLOOR_RATIO
        text = f"{'-'.join(str(n) for n in sizes)} floor {'PASS' if ok else 'FAIL'}"
        if "torch" in measured:
            ok = engine / _median(measured["torch"]) <= TARGET_TORCH_RATIO
            text += f", PyTorch {'PASS' if ok else 'FAIL'}"
        verdicts.append(text)
    return verdicts


def accuracy_check(train_set: Dataset, held_out: Dataset, threads: int) -> list[str]:
    """Engine and PyTorch, one epoch each from the same initial weights."""
    try:
        import torch
    except ImportError:
        return ["Accuracy check: PyTorch is not installed."]
    torch.set_num_threads(threads)
    normalization = Normalization("scale", train_set.max_value)
    test_images = torch.from_numpy(
        normalization.apply(held_out.images.reshape(len(held_out), -1))
    )
    test_labels = torch.from_numpy(held_out.labels.astype(np.int64))
    images = torch.from_numpy(train_set.images.reshape(len(train_set), -1))
    labels = torch.from_numpy(train_set.labels.astype(np.int64))
    lines = [
        f"Accuracy on {len(held_out):,} held-out images after one epoch (Adam lr "
        "0.001, batch 128), both from the engine's initial weights:"
    ]
    for hidden in NETWORKS:
        config = TrainingConfig(hidden_sizes=hidden, epochs=1, batch_size=BATCH)
        network = config.build_network(train_set.input_size, train_set.num_classes)
        model = _torch_model(network.layer_sizes, network)
        train(
            network, train_set, None, config, normalization=normalization,
            threads=threads,
        )  # fmt: skip
        engine = evaluate(network, held_out, normalization=normalization)
        generator = torch.Generator().manual_seed(0)
        _torch_epoch(model, images, labels, generator, train_set.max_value)()
        with torch.no_grad():
            logits = model(test_images)
            torch_loss = float(torch.nn.functional.cross_entropy(logits, test_labels))
            torch_accuracy = float((logits.argmax(1) == test_labels).double().mean())
        gap = engine.accuracy - torch_accuracy
        verdict = "PASS" if abs(gap) <= TARGET_ACCURACY_GAP else "FAIL"
        lines.append(
            f"  {'-'.join(str(n) for n in network.layer_sizes):<15} engine "
            f"{100 * engine.accuracy:.2f}% (loss {engine.loss:.4f}), PyTorch "
            f"{100 * torch_accuracy:.2f}% (loss {torch_loss:.4f}): "
            f"{100 * gap:+.2f} points, {verdict} (within "
            f"{100 * TARGET_ACCURACY_GAP:g})"
        )
    return lines


def augmentation_cost(dataset: Dataset, rounds: int, threads: int) -> list[str]:
    """Lines: the augmented epoch against the floor of its matrix products.

    For the training `recommended` ships with (its network, batch, dropout and
    L2) and for the two networks above (Adam, batch 128). An augmented minibatch
    leaves too few blank inputs to skip, so all its products are computed: its
    floor is the dense one, and it is held to the same target as any epoch
    against the products it computes. Plain epochs (with the blank-input skip and
    without it) alternate with the augmented ones and the floor (the second epoch
    of each two-epoch run is timed; medians of ``rounds``); ``augment_batch``
    alone over the same 60,000 images too.
    """
    from core.augment import augment_batch
    from core.presets import PRESETS

    preset = PRESETS["recommended"].config
    augment = preset.augment
    if not augment.is_active:
        augment = AugmentConfig(shift=1.5, rotation=10, scale=0.08, shear=8, elastic=1)
    amounts = ", ".join(
        f"{name} {value:g}"
        for name, value in augment.to_dict().items()
        if value and name not in ("elastic_grid", "probability")
    )
    lines = [
        f"Augmented epochs (`recommended`: {amounts}, probability "
        f"{augment.probability:g}) against the floor of their products (all of "
        f"them: nothing is blank to skip), target <= {TARGET_LIVE_FLOOR_RATIO}x; "
        f"median [min-max] of {rounds} alternating runs, seconds:"
    ]
    trainings = (
        (
            "recommended training",
            preset.hidden_sizes,
            {
                "batch_size": preset.batch_size,
                "dropout": preset.dropout,
                "l2": preset.l2,
            },
        ),
        *((None, hidden, {}) for hidden in reversed(NETWORKS)),
    )
    for label, hidden, settings in trainings:
        batch = settings.get("batch_size", BATCH)
        sizes = (dataset.input_size, *hidden, 10)
        floor_timer = gemm_floor_timer(sizes, batch=batch)
        times = {"floor": [], "plain": [], "every product": [], "augmented": []}
        for _ in range(rounds):
            times["floor"].append(floor_timer())
            times["plain"].append(
                engine_epochs(dataset, hidden, 2, threads, **settings)[0][1]
            )
            times["every product"].append(
                _without_skip(dataset, hidden, threads, **settings)
            )
            times["augmented"].append(
                engine_epochs(dataset, hidden, 2, threads, augment=augment, **settings)[
                    0
                ][1]
            )
        medians = {name: _median(values) for name, values in times.items()}
        ratio = medians["augmented"] / medians["floor"]
        added = (medians["augmented"] - medians["every product"]) / medians["floor"]
        extra = f", dropout {settings['dropout']:g}" if settings.get("dropout") else ""
        lines.append(
            f"  {'-'.join(map(str, sizes))} ({label or 'Adam'}, batch {batch}{extra}):"
            f" augmented {_spread(times['augmented'], 0)}, floor "
            f"{_spread(times['floor'], 0)}: x{ratio:.2f} "
            f"{'PASS' if ratio <= TARGET_LIVE_FLOOR_RATIO else 'FAIL'}"
        )
        against_plain = medians["augmented"] / medians["plain"]
        lines.append(
            f"      plain {_spread(times['plain'], 0)}"
            f" (augmented x{against_plain:.2f}),"
            f" plain with every product {_spread(times['every product'], 0)}:"
            f" augmentation adds {added:.0%} of the floor"
        )
    rng = np.random.default_rng(0)
    out = np.empty((BATCH, *dataset.image_shape), np.float32)
    alone = []
    for _ in range(rounds):
        started = time.perf_counter()
        for start in range(0, len(dataset), BATCH):
            batch = dataset.images[start : start + BATCH]
            augment_batch(
                batch,
                augment,
                rng,
                dataset.max_value,
                out=out[: len(batch)],
                labels=dataset.labels[start : start + BATCH],  # the styles need them
            )
        alone.append(time.perf_counter() - started)
    lines.append(
        f"  augment_batch alone (batches of {BATCH}, with their labels): "
        f"{_spread(alone, 0)} s per 60,000 images (`python -m bench.augment_speed`"
        " for more)."
    )
    return lines


def _without_skip(dataset: Dataset, hidden: tuple[int, ...], threads, **settings):
    """The second epoch's seconds of a plain two-epoch run that skips no input."""
    limit = fast.MAX_LIVE_SHARE
    fast.MAX_LIVE_SHARE = 0.0  # no minibatch is ever that blank
    try:
        return engine_epochs(dataset, hidden, 2, threads, **settings)[0][1]
    finally:
        fast.MAX_LIVE_SHARE = limit


def optimizer_cost(dataset: Dataset, rounds: int, threads: int) -> str:
    """One line: 784-256-10 epochs with Adam against momentum SGD, alternating."""
    hidden = NETWORKS[0]
    adam_timer = engine_epoch_timer(dataset, hidden, threads)
    momentum_timer = engine_epoch_timer(
        dataset, hidden, threads, optimizer="momentum", learning_rate=0.01
    )
    adam_timer(), momentum_timer()
    adam, momentum = [], []
    for _ in range(rounds):
        adam.append(adam_timer()[0])
        momentum.append(momentum_timer()[0])
    share = (_median(adam) - _median(momentum)) / _median(adam)
    return (
        f"784-256-10: Adam {_spread(adam, 0)} s/epoch, momentum SGD "
        f"{_spread(momentum, 0)} s/epoch (Adam's extra passes cost {100 * share:.0f}% "
        "of its median epoch)."
    )


_PIECES = (
    ("products", "matrix products (np.matmul, bias sums included)"),
    ("adam", "Adam (optimizer step)"),
    ("gather", "batch gather + normalisation"),
    ("blank", "blank-input skip: live columns, W0 rows, dW0 spread"),
    ("activations", "bias + ReLU, bias + softmax + loss + delta"),
)


def step_breakdown(
    dataset: Dataset, hidden: tuple[int, ...], threads: int, epochs: int = 3
) -> list[str]:
    """Where a training step's time goes, measured inside a real training run.

    The engine's pieces are wrapped with timers (wall clock; about 1 us per wrapped
    call), then ``epochs`` epochs are trained; the median epoch's figures per step.
    "rest" is the step's time outside the pieces: Python, labels, the accuracy
    count, the delta multiplications, the wrappers themselves.
    """
    from core import kernels, optimizers, training

    totals = dict.fromkeys((key for key, _ in _PIECES), 0)

    def timed(label: str, function):
        def call(*args, **kwargs):
            started = time.perf_counter_ns()
            try:
                return function(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter_ns() - started

        return call

    patches = [
        (np, "matmul", None),
        (training.fast, "gather_normalized", None),
        (optimizers.Adam, "step", None),
        (kernels, "live_columns", None),
        (kernels, "take_rows", None),
        (kernels, "spread_rows", None),
        (fast, "add_bias_and_activate", None),
        (fast, "add_bias_and_output", None),
    ]
    labels = {
        "matmul": "products",
        "gather_normalized": "gather",
        "step": "adam",
        "live_columns": "blank",
        "take_rows": "blank",
        "spread_rows": "blank",
        "add_bias_and_activate": "activations",
        "add_bias_and_output": "activations",
    }
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    config = TrainingConfig(hidden_sizes=hidden, batch_size=BATCH, epochs=1)
    network = MLP(config.layer_sizes(dataset.input_size, dataset.num_classes))
    with limited(threads):
        train(network, dataset, None, config, threads=threads)  # buffers, kernels
    rows = []
    try:
        for owner, name, wrapper in patches:
            original = getattr(owner, name)
            setattr(owner, name, wrapper or timed(labels[name], original))
        for _ in range(epochs):
            for key in totals:
                totals[key] = 0
            events: list = []
            train(network, dataset, None, config, events.append, threads=threads)
            epoch = next(e for e in events if isinstance(e, EpochEvent))
            rows.append((epoch.seconds, dict(totals)))
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
    rows.sort(key=lambda row: row[0])
    epoch_seconds, pieces = rows[len(rows) // 2]
    steps = math.ceil(len(dataset) / BATCH)
    step_us = 1e6 * epoch_seconds / steps
    name = "-".join(str(n) for n in network.layer_sizes)
    lines = [
        f"  {name}, {threads} thread(s): {step_us:,.0f} us per step "
        f"(median of {epochs} epochs, {epoch_seconds:.3f} s)"
    ]
    accounted = 0.0
    for key, text in _PIECES:
        us = pieces[key] / 1000 / steps
        accounted += us
        lines.append(f"    {text:<54}{us:>8,.0f} us {us / step_us:>5.0%}")
    rest = step_us - accounted
    lines.append(f"    {'rest':<54}{rest:>8,.0f} us {rest / step_us:>5.0%}")
    return lines


def _second_pass(args: argparse.Namespace, threads: int) -> list[str]:
    """The table again in a child process that lets OpenBLAS pick its kernel."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARIABLES}
    argv = [
        sys.executable, "-m", "bench.train_speed", "--table-only",
        "--rounds", str(args.rounds), "--threads", str(threads),
    ]  # fmt: skip
    if args.no_torch:
        argv.append("--no-torch")
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode:
        return [f"Second pass failed ({done.returncode}):", done.stdout, done.stderr]
    return done.stdout.rstrip().splitlines()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.train_speed", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed rounds per measurement"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS (and PyTorch) threads, fixed for every timing (default: all "
        "cores, as OpenBLAS's own default)",
    )
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="only the speed tables and the accuracy check",
    )
    parser.add_argument(
        "--table-only", action="store_true", help="only the speed table (one pass)"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="only where a training step's time goes, with 1 and with all threads",
    )
    args = parser.parse_args(argv)
    rounds = max(1, args.rounds)
    threads = args.threads or POOL.size or 1
    watch = LoadWatch()
    train_set, held_out, source = build_dataset()
    if args.breakdown:
        print(f"Per training step (batch {BATCH}), BLAS {_kernel()}:")
        for hidden in NETWORKS:
            for count in sorted({1, threads}):
                print("\n".join(step_breakdown(train_set, hidden, count)))
        print(f"Machine: {watch.describe()}.")
        return 0
    use_torch = not args.no_torch
    heading = "Second pass, in a child process" if args.table_only else "First pass"
    print(f"{heading}: BLAS {_kernel()}, {threads} thread(s).")
    if not args.table_only:
        print(
            f"Data: {len(train_set):,} samples from {source}; batch {BATCH}, float32."
        )
    print("\n".join(speed_table(train_set, rounds, threads, use_torch)))
    if args.table_only:
        print(f"Machine during this pass: {watch.describe()}.")
        return 0
    print(
        "Kernels (Adam, batch gather, bias + ReLU, softmax, blank inputs, "
        f"augmentation): {fast.status()}."
    )
    if use_torch:
        try:
            import torch

            print(
                f"PyTorch {torch.__version__}, torch.set_num_threads({threads}), Adam."
            )
        except ImportError:
            print("PyTorch: not installed (pip install torch==2.13.0 to compare).")
    print(f"Machine during this pass: {watch.describe()}.")
    print()
    print("\n".join(_second_pass(args, threads)))
    if not any(name in os.environ for name in BLAS_VARIABLES):
        print(
            "(Neither variable is set here, so both passes ran with the same kernel: "
            "the second is a repeat.)"
        )
    print()
    if use_torch:
        print("\n".join(accuracy_check(train_set, held_out, threads)))
    if not args.no_extras:
        print("\n".join(augmentation_cost(train_set, rounds, threads)))
        print(optimizer_cost(train_set, rounds, threads))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak RSS {peak:,.0f} MB.")
    print(f"Machine over the whole run: {watch.describe()}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
