"""Training speed: seconds per epoch over 60,000 samples against two references.

Run ``python -m bench.train_speed``. For 784-256-10 and 784-512-256-10 (ReLU,
softmax, Adam, batch 128, float32) it prints the engine's epoch time, the GEMM
floor (only the matrix products of the same training steps), PyTorch CPU on two
threads when ``import torch`` works, the ratios, and memory figures (peak RSS,
page faults per epoch), and whether the hot loops run compiled (the ``fast``
extra, numba) or in NumPy (``DIGIT_STUDIO_NO_KERNELS=1`` forces NumPy). Timings
on a shared machine are noisy: compare the ratios of one run, and use
``--repeats`` to take the best of several epochs.
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import time

import numpy as np

from core import fast
from core.augment import AugmentConfig
from core.datasets import Dataset
from core.network import MLP
from core.training import BatchEvent, EpochEvent, TrainingConfig, train

SAMPLES = 60_000
BATCH = 128
NETWORKS = ((256,), (512, 256))
TARGET_FLOOR_RATIO = 1.4
TARGET_TORCH_RATIO = 0.6
TARGET_AUGMENT_COST = 0.3  # augmentation may add at most 30% to an epoch


def build_dataset() -> tuple[Dataset, str]:
    """60,000 MNIST images tiled from the bundled sample (random pixels if absent)."""
    try:
        from core.datasets import load_bundled

        sample = load_bundled("mnist-sample")
        repeats = math.ceil(SAMPLES / len(sample))
        images = np.tile(sample.images, (repeats, 1, 1))[:SAMPLES]
        labels = np.tile(sample.labels, repeats)[:SAMPLES]
        source = f"the bundled MNIST sample ({len(sample):,} images) tiled"
        return Dataset("mnist-tiled", images, labels, sample.class_names), source
    except Exception as exc:  # noqa: BLE001 - any failure falls back to noise
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(SAMPLES, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=SAMPLES, dtype=np.uint8)
        source = f"RANDOM uint8 pixels (bundled sample unavailable: {exc})"
        return Dataset("random", images, labels), source


def _faults() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt + usage.ru_majflt


def engine_epochs(
    dataset: Dataset, hidden: tuple[int, ...], epochs: int, **settings
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

    train(network, dataset, None, config, on_event)
    # The first epoch allocates the buffers; count the steady state.
    steady = np.diff(faults)[1:] if epochs > 1 else np.diff(faults)
    return seconds, float(np.mean(steady))


def engine_epoch_timer(dataset: Dataset, hidden: tuple[int, ...], **settings):
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
        train(network, dataset, None, config, on_event)
        return seconds[-1], faults[-1]

    return epoch


def gemm_floor_timer(sizes: tuple[int, ...]):
    """Return a callable timing one epoch of only the training steps' matmuls."""
    rng = np.random.default_rng(0)
    weights = [
        rng.standard_normal((a, b), dtype=np.float32) * 0.05
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    batches = [BATCH] * (SAMPLES // BATCH) + (
        [SAMPLES % BATCH] if SAMPLES % BATCH else []
    )
    buffers = {}
    for size in set(batches):
        x = rng.random((size, sizes[0]), dtype=np.float32)
        acts = [np.empty((size, n), np.float32) for n in sizes[1:]]
        deltas = [rng.random((size, n), dtype=np.float32) for n in sizes[1:]]
        buffers[size] = (x, acts, deltas)
    grads = [np.empty_like(w) for w in weights]

    def epoch() -> float:
        started = time.perf_counter()
        for size in batches:
            x, acts, deltas = buffers[size]
            inputs = x
            for w, a in zip(weights, acts, strict=True):
                np.matmul(inputs, w, out=a)
                inputs = a
            for i in range(len(weights) - 1, -1, -1):
                below = x if i == 0 else acts[i - 1]
                np.matmul(below.T, deltas[i], out=grads[i])
                if i > 0:
                    np.matmul(deltas[i], weights[i].T, out=deltas[i - 1])
        return time.perf_counter() - started

    return epoch


def gemm_floor(sizes: tuple[int, ...], repeats: int) -> float:
    """Seconds per epoch (best of ``repeats``) for only the matrix products."""
    epoch = gemm_floor_timer(sizes)
    epoch()
    return min(epoch() for _ in range(repeats))


def torch_epoch_timer(dataset: Dataset, sizes: tuple[int, ...]):
    """Return a callable timing one PyTorch epoch (2 threads), or None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    torch.manual_seed(0)
    layers: list = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    images = torch.from_numpy(dataset.images.reshape(len(dataset), -1))
    labels = torch.from_numpy(dataset.labels.astype(np.int64))
    generator = torch.Generator().manual_seed(0)

    def epoch() -> float:
        started = time.perf_counter()
        order = torch.randperm(len(dataset), generator=generator)
        for start in range(0, len(dataset), BATCH):
            index = order[start : start + BATCH]
            inputs = images[index].float().div_(255.0)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), labels[index])
            loss.backward()
            optimizer.step()
        return time.perf_counter() - started

    return epoch


# --- Augmentation cost (owned by the augmentation engineer) ---------------------


def augmentation_cost(dataset: Dataset, repeats: int) -> list[str]:
    """Lines: epoch time without and with the `recommended` augmentation.

    Measured for the training it is shipped with (the `recommended` preset's network,
    batch, dropout and L2) and for the two networks above (Adam, batch 128). Plain
    and augmented epochs are timed alternately (best of ``repeats`` each, after a
    warm-up epoch) so that load from elsewhere hits both alike; the time of
    ``augment_batch`` alone over the same 60,000 images is printed too.
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
        f"Augmentation cost (`recommended`: {amounts}, probability "
        f"{augment.probability:g}); target <= x{1 + TARGET_AUGMENT_COST:.2f}:"
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
        plain, augmented = math.inf, math.inf
        for _ in range(repeats):
            plain = min(plain, engine_epochs(dataset, hidden, 2, **settings)[0][1])
            augmented = min(
                augmented,
                engine_epochs(dataset, hidden, 2, augment=augment, **settings)[0][1],
            )
        sizes = "-".join(str(n) for n in (dataset.input_size, *hidden, 10))
        batch = settings.get("batch_size", BATCH)
        extra = f", dropout {settings['dropout']:g}" if settings.get("dropout") else ""
        name = label or "Adam"
        cost = augmented / plain
        lines.append(
            f"  {sizes} ({name}, batch {batch}{extra}): epoch {plain:.3f} s plain, "
            f"{augmented:.3f} s augmented, x{cost:.2f}: "
            f"{'PASS' if cost <= 1 + TARGET_AUGMENT_COST else 'FAIL'}"
        )
    rng = np.random.default_rng(0)
    out = np.empty((BATCH, *dataset.image_shape), np.float32)
    alone = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(dataset), BATCH):
            batch = dataset.images[start : start + BATCH]
            augment_batch(batch, augment, rng, dataset.max_value, out=out[: len(batch)])
        alone = min(alone, time.perf_counter() - started)
    lines.append(f"  augment_batch alone: {alone:.3f} s per 60,000 images.")
    lines.append(
        "  (Plain minibatches skip the inputs that are blank in all their images, "
        "about a third;\n  augmented ones leave too few blank to skip, so part of "
        "each cost above is that skip lost.)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.train_speed", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed epochs per measurement"
    )
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="skip the momentum-SGD timing (784-256-10)",
    )
    args = parser.parse_args(argv)
    repeats = max(1, args.repeats)
    dataset, source = build_dataset()
    print(f"Data: {SAMPLES:,} samples from {source}; batch {BATCH}, float32.")
    print(
        f"Best of {repeats} rounds after a warm-up round, interleaved across "
        "engine, floor, PyTorch and networks; median of the engine's rounds too."
    )
    header = (
        f"{'network':<16}{'engine s':>10}{'median':>9}{'GEMM floor':>12}"
        f"{'x floor':>9}{'torch s':>9}{'x torch':>9}{'faults/ep':>11}"
    )
    print(header)
    timers: dict[tuple[int, ...], dict] = {}
    for hidden in NETWORKS:
        sizes = (dataset.input_size, *hidden, dataset.num_classes)
        found = {
            "engine": engine_epoch_timer(dataset, hidden),
            "floor": gemm_floor_timer(sizes),
            "torch": None if args.no_torch else torch_epoch_timer(dataset, sizes),
        }
        timers[sizes] = {key: timer for key, timer in found.items() if timer}
    times = {sizes: {key: [] for key in found} for sizes, found in timers.items()}
    faults: dict[tuple[int, ...], list[int]] = {sizes: [] for sizes in timers}
    for round_index in range(repeats + 1):
        # Interleaved rounds, across the networks too: a slow spell of the
        # machine hits the engine, the floor and PyTorch alike, and no spell
        # shorter than the whole run covers every round of one network.
        for sizes, found in timers.items():
            for key, timer in found.items():
                result = timer()
                if key == "engine":
                    result, fault_count = result
                    if round_index:
                        faults[sizes].append(fault_count)
                if round_index:
                    times[sizes][key].append(result)
    for sizes, measured in times.items():
        engine, floor = min(measured["engine"]), min(measured["floor"])
        median = statistics.median(measured["engine"])
        name = "-".join(str(n) for n in sizes)
        line = (
            f"{name:<16}{engine:>10.3f}{median:>9.3f}{floor:>12.3f}"
            f"{engine / floor:>9.2f}"
        )
        if "torch" in measured:
            torch_seconds = min(measured["torch"])
            line += f"{torch_seconds:>9.3f}{engine / torch_seconds:>9.2f}"
        else:
            line += f"{'-':>9}{'-':>9}"
        print(line + f"{statistics.mean(faults[sizes]):>11,.0f}")
    if args.no_torch:
        print("PyTorch: skipped (--no-torch).")
    else:
        try:
            import torch

            print(f"PyTorch {torch.__version__}, torch.set_num_threads(2), Adam.")
        except ImportError:
            print("PyTorch: not installed (pip install torch==2.13.0 to compare).")
    print(
        "Kernels (Adam, batch gather, bias + ReLU, softmax, blank inputs, "
        f"augmentation): {fast.status()}."
    )
    print(
        f"Targets: engine <= {TARGET_FLOOR_RATIO}x the GEMM floor and "
        f"<= {TARGET_TORCH_RATIO}x PyTorch."
    )
    print("\n".join(augmentation_cost(dataset, repeats)))
    if not args.no_extras:
        hidden = NETWORKS[0]
        adam_timer = engine_epoch_timer(dataset, hidden)
        momentum_timer = engine_epoch_timer(
            dataset, hidden, optimizer="momentum", learning_rate=0.01
        )
        adam_timer(), momentum_timer()
        adam, momentum = math.inf, math.inf
        for _ in range(repeats):
            adam = min(adam, adam_timer()[0])
            momentum = min(momentum, momentum_timer()[0])
        print(
            f"784-256-10: Adam {adam:.3f} s/epoch, momentum SGD {momentum:.3f} s/epoch "
            f"(Adam's extra passes cost {100 * (adam - momentum) / adam:.0f}%)."
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak RSS {peak:,.0f} MB.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
