import os

import numpy as np
import pytest

from core import fast, kernels
from core.augment import AugmentConfig, augment_batch
from core.datasets import Dataset, load_bundled
from core.drawing_styles import add_style_strokes
from core.network import MLP
from core.optimizers import Adam
from core.strokes import render_segments
from core.training import TrainingConfig, train

KERNELS = (
    "adam",
    "add_scaled",
    "warp",
    "gather",
    "bias_relu",
    "softmax_shift",
    "softmax_normalize",
    "live_columns",
    "take_rows",
    "unpack_rows",
    "spread_rows",
    "segments",
    "blur_rows",
    "erode_layers",
    "spread_ridges",
    "absorb_bumps",
    "grow_into_paper",
    "cut_each",
    "block_sums",
    "euler_numbers",
    "row_product",
    "box_weights",
)


def _needs_numba():
    """Skip unless the kernels can run: numba installed and not turned off."""
    pytest.importorskip("numba")
    if os.environ.get(kernels.DISABLE_VARIABLE, "").strip() not in ("", "0"):
        pytest.skip(f"{kernels.DISABLE_VARIABLE} is set")


@pytest.fixture
def fresh_kernels(monkeypatch):
    """Make core.kernels decide again, as in a new process."""
    monkeypatch.setattr(kernels, "_loaded", False)
    monkeypatch.setattr(kernels, "_kernels", {})
    monkeypatch.setattr(kernels, "_status", "")


def _numpy_only(monkeypatch):
    """Run everything in NumPy from now on, as without numba."""
    monkeypatch.setattr(kernels, "_loaded", True)
    monkeypatch.setattr(kernels, "_kernels", {})


def _adam_run(steps: int, overwrite: bool) -> list[np.ndarray]:
    net = MLP((30, 20, 10), seed=3)  # float32, parameters in one flat buffer
    grads = [np.empty_like(p) for p in net.parameters()]
    rng = np.random.default_rng(4)
    optimizer = Adam()
    for step in range(steps):
        for g in grads:
            g[...] = rng.normal(scale=10.0 ** -(step % 4), size=g.shape)
        optimizer.step(
            net.parameters(),
            grads,
            1e-3 * (1 + step % 3),
            overwrite_gradients=overwrite,
        )
    return [p.copy() for p in net.parameters()]


@pytest.mark.parametrize("overwrite", [False, True])
def test_compiled_adam_gives_the_numpy_weights_bit_for_bit(overwrite, monkeypatch):
    _needs_numba()
    compiled = _adam_run(25, overwrite)
    _numpy_only(monkeypatch)
    plain = _adam_run(25, overwrite)
    for a, b in zip(compiled, plain, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(compiled[0], MLP((30, 20, 10), seed=3).weights[0])


def _train_weights(
    margin: int = 0, read_only: bool = False, **settings
) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(300, 8, 8), dtype=np.uint8)
    if margin:  # blank borders, as handwritten digits have: the skipped inputs
        images[:, :margin] = images[:, -margin:] = 0
        images[:, :, :margin] = images[:, :, -margin:] = 0
    images.flags.writeable = not read_only  # as a stored dataset's mapped file
    labels = (images.reshape(300, -1).mean(axis=1) > 127).astype(np.uint8)
    data = Dataset("noise", images, labels, ("dark", "bright"))
    config = TrainingConfig(
        hidden_sizes=(16, 12), epochs=3, batch_size=32, seed=5, **settings
    )
    result = train(config.build_network(64, 2), data, None, config)
    return [p.copy() for p in result.network.parameters()]


@pytest.mark.parametrize(
    "settings",
    [
        {},  # Adam, ReLU, scaled inputs: every kernel
        {"normalization": "standardize", "dropout": 0.2, "l2": 1e-3},
        {"augment": AugmentConfig(shift=2, rotation=15, elastic=1, probability=0.7)},
        {"activation": "tanh", "optimizer": "momentum", "learning_rate": 0.05},
        {"margin": 2, "l2": 1e-3},  # blank inputs skipped in the first layer
    ],
)
def test_training_with_the_kernels_matches_numpy_training(settings, monkeypatch):
    _needs_numba()
    compiled = _train_weights(**settings)
    _numpy_only(monkeypatch)
    for a, b in zip(compiled, _train_weights(**settings), strict=True):
        assert np.array_equal(a, b)


def test_arrays_the_kernel_does_not_take_are_left_to_numpy():
    w = np.ones(6)  # float64
    g = np.full(6, 0.5)
    m, v = np.zeros(6), np.zeros(6)
    assert kernels.adam_update(w, g, m, v, 0.9, 0.999, 1e-8, 0.1) is False
    assert np.all(w == 1) and np.all(m == 0) and np.all(v == 0)
    strided = np.ones(12, np.float32)[::2]
    other = [np.zeros(6, np.float32) for _ in range(3)]
    assert kernels.adam_update(strided, *other, 0.9, 0.999, 1e-8, 0.1) is False
    assert np.all(strided == 1)


def test_the_environment_can_turn_the_kernel_off(fresh_kernels, monkeypatch):
    monkeypatch.setenv(kernels.DISABLE_VARIABLE, "1")
    w = np.ones(4, np.float32)
    zeros = [np.zeros(4, np.float32) for _ in range(3)]
    assert kernels.adam_update(w, *zeros, 0.9, 0.999, 1e-8, 0.1) is False
    assert kernels.status().startswith("NumPy")
    assert kernels.DISABLE_VARIABLE in kernels.status()


def test_without_numba_adam_runs_in_numpy(fresh_kernels, monkeypatch):
    monkeypatch.delenv(kernels.DISABLE_VARIABLE, raising=False)
    monkeypatch.setitem(__import__("sys").modules, "numba", None)  # import fails
    assert "fast" in kernels.status()
    weights = _adam_run(3, overwrite=True)
    assert all(np.all(np.isfinite(w)) for w in weights)


def test_status_names_the_compiled_kernel_when_numba_is_there(
    fresh_kernels, monkeypatch
):
    numba = pytest.importorskip("numba")  # the variable is removed below
    monkeypatch.delenv(kernels.DISABLE_VARIABLE, raising=False)
    assert kernels.status() == f"compiled (numba {numba.__version__})"


@pytest.mark.parametrize(
    "config",
    [
        AugmentConfig(shift=1.5, rotation=10, scale=0.08, shear=8, elastic=1.5),
        AugmentConfig(shift=14, rotation=180, scale=0.9, shear=60, probability=0.5),
        AugmentConfig(elastic=10, thickness=0.5, noise=0.1),
        AugmentConfig(rotation=30, elastic=3, elastic_grid=7, probability=0.7),
        AugmentConfig(shift=3, elastic=2, elastic_grid=2),
    ],
)
@pytest.mark.parametrize("shape", [(37, 28, 28), (5, 8, 8), (3, 11, 17)])
def test_compiled_sampling_gives_the_numpy_augmentation_bit_for_bit(
    config, shape, monkeypatch
):
    _needs_numba()
    images = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    images[:, :2] = 255  # ink on the border: taps outside the image must read 0
    compiled = augment_batch(images, config, np.random.default_rng(2))
    assert kernels.status().startswith("compiled")
    _numpy_only(monkeypatch)
    plain = augment_batch(images, config, np.random.default_rng(2))
    assert np.array_equal(compiled, plain)
    assert not np.array_equal(compiled, images)


@pytest.mark.parametrize("standardize", [False, True])
def test_compiled_gather_gives_the_numpy_inputs_bit_for_bit(standardize, monkeypatch):
    _needs_numba()
    from core.datasets import Normalization

    images = np.random.default_rng(6).integers(0, 256, size=(50, 20), dtype=np.uint8)
    kind = "standardize" if standardize else "scale"
    normalization = Normalization.fit(kind, images, 255)
    indices = np.array([7, 0, 49, 7, 13])
    out = np.empty((5, 20), np.float32)
    compiled = fast.gather_normalized(images, indices, normalization, out).copy()
    _numpy_only(monkeypatch)
    plain = fast.gather_normalized(images, indices, normalization, out)
    assert np.array_equal(compiled, plain)
    assert np.array_equal(plain, normalization.apply(images[indices]))


def test_the_gather_kernel_refuses_indices_outside_the_images():
    images = np.zeros((4, 3), np.uint8)
    out = np.full((2, 3), 7.0, np.float32)
    for bad in ([0, 4], [-1, 0]):
        indices = np.array(bad, dtype=np.intp)
        assert not kernels.gather_normalized(images, indices, 1.0, None, None, out)
    assert np.all(out == 7.0)


def _relu_both_ways(z, bias, monkeypatch):
    """Bias + ReLU compiled, then in NumPy: (z, slope) of each."""
    from core.activations import ACTIVATIONS

    relu = ACTIVATIONS["relu"]
    compiled_z, compiled_slope = z.copy(), np.empty_like(z)
    fast.add_bias_and_activate(compiled_z, bias, relu, compiled_slope)
    _numpy_only(monkeypatch)
    plain_z, plain_slope = z.copy(), np.empty_like(z)
    fast.add_bias_and_activate(plain_z, bias, relu, plain_slope)
    return compiled_z, compiled_slope, plain_z, plain_slope


def test_compiled_relu_gives_the_numpy_activations_bit_for_bit(monkeypatch):
    _needs_numba()
    rng = np.random.default_rng(8)
    z = rng.normal(size=(9, 7)).astype(np.float32)
    z[0, 0] = np.nan
    bias = rng.normal(size=7).astype(np.float32)
    compiled_z, compiled_slope, plain_z, plain_slope = _relu_both_ways(
        z, bias, monkeypatch
    )
    # Same bits, including -0.0 for negative sums and NaN where z was NaN.
    assert plain_z.tobytes() == compiled_z.tobytes()
    assert np.array_equal(plain_slope, compiled_slope)
    assert np.isnan(plain_z[0, 0]) and np.signbit(plain_z).any()


def test_compiled_relu_gives_slope_0_where_the_biased_input_is_exactly_0(monkeypatch):
    # A blank image meets zero biases at the start of training: z + b is 0.
    _needs_numba()
    bias = np.array([0.0, 0.5, -0.25, 0.0], np.float32)
    z = np.array([[0.0, -0.5, 0.25, 1.0], [-0.0, 1.0, -1.0, -2.0]], np.float32)
    compiled_z, compiled_slope, plain_z, plain_slope = _relu_both_ways(
        z, bias, monkeypatch
    )
    assert plain_slope.tolist() == [[0, 0, 0, 1], [0, 1, 0, 0]]
    assert compiled_slope.tobytes() == plain_slope.tobytes()
    assert compiled_z.tobytes() == plain_z.tobytes()


def _softmax_step(z, bias, labels):
    from core.losses import OUTPUTS

    z, delta = z.copy(), np.empty_like(z)
    output = OUTPUTS["softmax_cross_entropy"]
    loss = fast.add_bias_and_output(z, bias, output, labels, delta)
    return z, delta, loss


@pytest.mark.parametrize("classes", [1, 2, 7, 8, 10, 13, 47, 128, 129])
@pytest.mark.parametrize("batch", [1, 5, 64])
def test_compiled_softmax_gives_the_numpy_probabilities_delta_and_loss(
    classes, batch, monkeypatch
):
    # Row sums follow NumPy's pairwise pattern up to 128 classes; beyond, the
    # kernel refuses and NumPy does the work.
    _needs_numba()
    rng = np.random.default_rng(classes * 100 + batch)
    spread = rng.choice([1e-3, 1.0, 30.0, 1e4], size=(batch, 1))
    z = (rng.normal(size=(batch, classes)) * spread).astype(np.float32)
    bias = rng.normal(size=classes).astype(np.float32)
    labels = rng.integers(0, classes, size=batch).astype(np.intp)
    compiled = _softmax_step(z, bias, labels)
    _numpy_only(monkeypatch)
    plain = _softmax_step(z, bias, labels)
    assert compiled[0].tobytes() == plain[0].tobytes()  # probabilities
    assert compiled[1].tobytes() == plain[1].tobytes()  # delta
    assert compiled[2] == plain[2]  # loss
    assert np.allclose(plain[0].sum(axis=1), 1.0, atol=1e-5)


def test_compiled_softmax_keeps_numpy_nans_and_infinities(monkeypatch):
    _needs_numba()
    z = np.zeros((4, 10), np.float32)
    z[0, 3] = np.nan
    z[1, 9] = np.inf
    z[2, 0] = -np.inf
    z[3] = np.float32(3e38)
    bias = np.linspace(-1, 1, 10, dtype=np.float32)
    labels = np.array([3, 9, 0, 5], np.intp)
    with np.errstate(all="ignore"):
        compiled = _softmax_step(z, bias, labels)
        _numpy_only(monkeypatch)
        plain = _softmax_step(z, bias, labels)
    assert compiled[0].tobytes() == plain[0].tobytes()
    assert compiled[1].tobytes() == plain[1].tobytes()
    assert np.isnan(compiled[2]) and np.isnan(plain[2])
    assert np.isnan(plain[0][0]).all() and not np.isnan(plain[0][2]).any()


def test_the_softmax_kernel_refuses_labels_out_of_range():
    z = np.ones((2, 10), np.float32)
    for bad in ([0, 10], [-1, 0]):
        labels = np.array(bad, np.intp)
        picked = np.full(2, 7.0, np.float32)
        assert not kernels.softmax_shift(z, np.zeros(10, np.float32), labels, picked)
        delta = np.full_like(z, 7.0)
        assert not kernels.softmax_normalize(z, labels, 0.5, picked, delta)
        assert np.all(z == 1.0) and np.all(picked == 7.0) and np.all(delta == 7.0)
    with pytest.raises(IndexError):  # NumPy's own error, as without numba
        _softmax_step(z, np.zeros(10, np.float32), np.array([0, 10], np.intp))


def test_warm_up_loads_every_kernel_without_changing_anything():
    _needs_numba()
    kernels.warm_up()
    assert kernels.available()
    assert tuple(kernels._kernels) == KERNELS
    for kernel in kernels._kernels.values():
        assert kernel.signatures  # compiled or loaded for float32


def test_training_uses_the_kernels_warm_up_loaded():
    # A kernel called with other array types would compile again in the middle
    # of training, holding the GIL for a second.
    _needs_numba()
    kernels.warm_up()
    loaded = {name: list(k.signatures) for name, k in kernels._kernels.items()}
    for augment in (
        AugmentConfig(),
        AugmentConfig(rotation=10, probability=0.5),
        AugmentConfig(elastic=2, noise=0.1),
    ):
        for read_only in (False, True):
            _train_weights(augment=augment, read_only=read_only)
            _train_weights(
                augment=augment, read_only=read_only, normalization="standardize"
            )
    assert {name: list(k.signatures) for name, k in kernels._kernels.items()} == loaded


def _resident_compiler_bytes(kinds=("Rss:",)) -> int:
    """Resident bytes of LLVM's library maps in this process (Linux).

    ``kinds``: the smaps fields to add up; ``Rss:`` counts pages other processes
    map too, which no process can give back alone.
    """
    resident, compiler = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split(maxsplit=5)
            if not fields[0].endswith(":"):  # a map's first line: range ... path
                compiler = len(fields) > 5 and "llvm" in fields[5].lower()
            elif fields[0] in kinds and compiler:
                resident += int(fields[1]) * 1024
    return resident


def test_warm_up_gives_back_the_compilers_pages(monkeypatch):
    # Once the kernels are loaded LLVM's code lies idle: 68 MiB resident for
    # nothing, on top of a big dataset (bench.big_dataset).
    _needs_numba()
    if not os.path.exists("/proc/self/smaps"):
        pytest.skip("reads Linux's /proc")
    import numba

    numba.njit(lambda x: x + 1)(1)  # compiling brings the compiler's pages in
    assert _resident_compiler_bytes() > 32 * 2**20
    monkeypatch.setattr(kernels, "_compiler_released", False)
    kernels.warm_up()
    # Only this process's own pages: another process using numba (another
    # Digit Studio, a benchmark) keeps the pages it shares resident.
    resident = _resident_compiler_bytes(("Private_Clean:", "Private_Dirty:"))
    if resident > 8 * 2**20 and not kernels.release_compiler():
        pytest.skip("this kernel cannot page out (Linux 5.4 and later)")
    assert resident < 8 * 2**20


def test_warm_up_without_numba_does_nothing(fresh_kernels, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "numba", None)
    kernels.warm_up()
    assert not kernels.available()


def test_a_kernel_that_fails_hands_the_work_back_to_numpy(monkeypatch):
    def broken(*arguments):
        raise RuntimeError("cannot compile for this CPU")

    monkeypatch.setattr(kernels, "_loaded", True)
    monkeypatch.setattr(kernels, "_status", "compiled")
    monkeypatch.setattr(kernels, "_kernels", dict.fromkeys(KERNELS, broken))
    expected = _adam_run(3, overwrite=False)  # NumPy after the first failure
    assert "cannot compile" in kernels.status()
    assert not kernels.available()
    _numpy_only(monkeypatch)
    for a, b in zip(expected, _adam_run(3, overwrite=False), strict=True):
        assert np.array_equal(a, b)


def test_the_softmax_kernels_leave_other_layouts_to_numpy():
    # Strided arrays would compile another kernel version in the middle of a run.
    z = np.ones((4, 10), np.float32)
    picked, delta = np.zeros(4, np.float32), np.zeros_like(z)
    strided_labels = np.zeros(8, np.intp)[::2]
    strided_bias = np.zeros(20, np.float32)[::2]
    assert not kernels.softmax_shift(
        z, np.zeros(10, np.float32), strided_labels, picked
    )
    assert not kernels.softmax_shift(z, strided_bias, np.zeros(4, np.intp), picked)
    assert not kernels.softmax_normalize(z, strided_labels, 0.25, picked, delta)
    assert np.all(z == 1.0) and np.all(picked == 0.0)


def test_live_columns_finds_and_copies_what_numpy_does():
    _needs_numba()
    rng = np.random.default_rng(8)
    x = rng.random((33, 70)).astype(np.float32)
    x[rng.random(x.shape) < 0.6] = 0
    x[:, ::3] = 0
    x[4, 3] = np.nan  # a NaN makes its column live
    x[5, 6] = -0.0  # -0.0 does not
    live = np.flatnonzero(x.any(axis=0))
    index, count = np.full(70, -1, np.intp), np.zeros(1, np.intp)
    compact = np.full(x.size, 7.0, np.float32)
    assert kernels.live_columns(x, live.size, index, count, compact)
    assert count[0] == live.size
    assert np.array_equal(index[: live.size], live)
    copied = compact[: x.shape[0] * live.size].reshape(x.shape[0], live.size)
    assert np.array_equal(copied, x[:, live], equal_nan=True)
    compact[:] = 7.0  # over the limit: counted, not copied
    assert kernels.live_columns(x, live.size - 1, index, count, compact)
    assert count[0] == live.size and np.all(compact == 7.0)


def test_row_copies_match_numpy_and_refuse_bad_indices():
    _needs_numba()
    rng = np.random.default_rng(9)
    a = rng.random((12, 5)).astype(np.float32)
    index = np.array([0, 3, 4, 11], np.intp)
    rows = np.empty((4, 5), np.float32)
    assert kernels.take_rows(a, index, rows)
    assert np.array_equal(rows, a[index])
    out = np.full_like(a, 7.0)
    assert kernels.spread_rows(rows, index, out)
    expected = np.zeros_like(a)
    expected[index] = rows
    assert np.array_equal(out, expected)
    for bad in ([0, 12, 1, 2], [-1, 0, 1, 2], [0, 3, 3, 4], [4, 3, 5, 6]):
        bad = np.array(bad, np.intp)
        out[:] = 7.0
        assert not kernels.spread_rows(rows, bad, out)
        assert np.all(out == 7.0)
    for bad in ([0, 12, 1, 2], [-1, 0, 1, 2]):
        rows[:] = 7.0
        assert not kernels.take_rows(a, np.array(bad, np.intp), rows)
        assert np.all(rows == 7.0)
    assert not kernels.take_rows(a.astype(np.float64), index, rows)
    assert not kernels.live_columns(a[:, ::2], 5, index, np.zeros(1, np.intp), rows)


def test_compiled_style_strokes_give_the_numpy_images_bit_for_bit(monkeypatch):
    _needs_numba()
    data = load_bundled("mnist-sample")
    images, labels = data.images[:300], data.labels[:300]
    config = AugmentConfig(styles=1.0, aspect=0.25, rotation=10, probability=0.8)
    compiled = augment_batch(images, config, np.random.default_rng(3), labels=labels)
    strokes = add_style_strokes(images, labels, np.random.default_rng(4))
    assert kernels._kernels["segments"].signatures  # the kernel drew them
    _numpy_only(monkeypatch)
    plain = augment_batch(images, config, np.random.default_rng(3), labels=labels)
    assert np.array_equal(compiled, plain)
    assert np.array_equal(
        strokes, add_style_strokes(images, labels, rng=np.random.default_rng(4))
    )


def test_compiled_segments_render_the_numpy_images_bit_for_bit(monkeypatch):
    _needs_numba()
    kernels.warm_up()
    rng = np.random.default_rng(5)
    starts = rng.uniform(-3.0, 31.0, (60, 12, 2)).astype(np.float32)
    ends = starts + rng.normal(0.0, 4.0, starts.shape).astype(np.float32)
    starts[rng.random((60, 12)) < 0.3] = np.nan  # not drawn
    widths = rng.uniform(0.5, 5.0, (60, 12))
    drawn = []
    segments = kernels._kernels["segments"]
    monkeypatch.setitem(
        kernels._kernels, "segments", lambda *a: drawn.append(1) or segments(*a)
    )
    compiled = render_segments(starts, ends, widths, (28, 28))
    assert drawn  # the kernel drew them
    _numpy_only(monkeypatch)
    assert np.array_equal(compiled, render_segments(starts, ends, widths, (28, 28)))


def test_the_segment_kernel_refuses_images_out_of_range_and_other_layouts():
    _needs_numba()
    ends = np.array([[2.0], [2.0], [5.0], [6.0]], np.float32)
    reach = np.ones(1, np.float32)
    out = np.zeros((2, 8, 8), np.float32)
    for bad in (2, -1):
        assert not kernels.draw_segments(ends, np.array([bad], np.intp), reach, out)
        assert np.all(out == 0)
    strided = np.zeros((2, 8, 16), np.float32)[:, :, ::2]
    assert not kernels.draw_segments(ends, np.ones(1, np.intp), reach, strided)
    assert not kernels.draw_segments(
        ends.astype(np.float64), np.ones(1, np.intp), reach, out
    )
    for far in (np.inf, np.nan, 3e38):
        beyond = ends.copy()
        beyond[2, 0] = far
        assert not kernels.draw_segments(beyond, np.ones(1, np.intp), reach, out)
        assert np.all(out == 0)
    assert kernels.draw_segments(ends, np.ones(1, np.intp), reach, out)
    assert out[1].max() == 1.0 and np.all(out[0] == 0)


@pytest.mark.parametrize("sigma", [1.2, 3.7, 6.0])
def test_compiled_stroke_blur_gives_the_numpy_blur_bit_for_bit(sigma, monkeypatch):
    from core.preprocess import _blur

    _needs_numba()
    kernels.warm_up()
    rng = np.random.default_rng(8)
    ink = rng.random((50, 30), dtype=np.float32) * (rng.random((50, 30)) < 0.4)
    compiled = _blur(ink, 12, sigma)
    _numpy_only(monkeypatch)
    assert compiled.tobytes() == _blur(ink, 12, sigma).tobytes()


def test_the_blur_kernel_runs_and_leaves_other_layouts_to_numpy():
    _needs_numba()
    kernels.warm_up()
    kernel = np.ones(3, np.float32)
    padded = np.ones((9, 4), np.float32)
    out = np.zeros((5, 4), np.float32)
    assert kernels.blur_rows(padded, kernel, out, 0, 5)
    assert np.array_equal(out[2], np.full(4, 5.0, np.float32))
    for bad_padded, bad_out in (
        (padded[:, :3], out),  # widths differ
        (padded[1:], out),  # not 2 r rows more
        (padded, np.zeros((4, 5), np.float32).T),  # not C-contiguous
        (padded.astype(np.float64), out),
    ):
        before = bad_out.copy()
        assert not kernels.blur_rows(bad_padded, kernel, bad_out, 0, 5)
        assert np.array_equal(bad_out, before)


def _blobs(seed: int) -> list[np.ndarray]:
    """Ink of random widths: thresholded, smoothed noise of random sizes."""
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(60):
        noise = rng.random(tuple(rng.integers(3, 70, size=2)))
        for _ in range(int(rng.integers(0, 5))):
            noise = (noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1)) / 3
        found.append(noise > np.quantile(noise, rng.uniform(0.1, 0.9)))
    return found


def test_compiled_stroke_depths_give_the_numpy_ones_bit_for_bit(monkeypatch):
    from core.stroke_depth import ridge_depths, stroke_depths

    _needs_numba()
    kernels.warm_up()
    blobs = _blobs(9)
    compiled = [stroke_depths(ink) for ink in blobs]
    ridges = [ridge_depths(depth, deepest) for depth, deepest in compiled]
    assert max(deepest for _, deepest in compiled) >= 6
    _numpy_only(monkeypatch)
    for ink, (depth, deepest), ridge in zip(blobs, compiled, ridges, strict=True):
        numpy_depth, numpy_deepest = stroke_depths(ink)
        assert numpy_deepest == deepest
        assert numpy_depth.tobytes() == depth.tobytes()
        assert ridge_depths(numpy_depth, deepest).tobytes() == ridge.tobytes()


def test_compiled_bumps_and_growth_give_the_numpy_ones_bit_for_bit(monkeypatch):
    from core.stroke_depth import _absorb_bumps, grow_into_paper

    _needs_numba()
    kernels.warm_up()
    rng = np.random.default_rng(10)
    ridges = [
        (blob * rng.integers(1, 6, size=blob.shape)).astype(np.uint8)
        for blob in _blobs(11)
    ]
    absorbed, grown = [r.copy() for r in ridges], [r.copy() for r in ridges]
    for ridge, more in zip(absorbed, grown, strict=True):
        _absorb_bumps(ridge)
        grow_into_paper(more, 3)
    changed = [not np.array_equal(a, r) for a, r in zip(absorbed, ridges, strict=True)]
    assert sum(changed) > 30
    _numpy_only(monkeypatch)
    for ridge, compiled, more in zip(ridges, absorbed, grown, strict=True):
        plain = ridge.copy()
        _absorb_bumps(plain)
        assert plain.tobytes() == compiled.tobytes()
        plain = ridge.copy()
        grow_into_paper(plain, 3)
        assert plain.tobytes() == more.tobytes()


@pytest.mark.parametrize("q", [2, 3, 7, 8, 13])
def test_compiled_block_sums_give_the_numpy_ones_bit_for_bit(q, monkeypatch):
    from core.preprocess import _block_sums

    _needs_numba()
    kernels.warm_up()
    rng = np.random.default_rng(q)
    crops = [rng.random((h, w), dtype=np.float32) for h, w in [(97, 263), (5, 3)]]
    compiled = [_block_sums(crop, q) for crop in crops]
    _numpy_only(monkeypatch)
    for crop, sums in zip(crops, compiled, strict=True):
        assert _block_sums(crop, q).tobytes() == sums.tobytes()


def test_compiled_cut_of_each_stroke_gives_the_numpy_one_bit_for_bit(monkeypatch):
    from core.preprocess import _cut_each

    _needs_numba()
    kernels.warm_up()
    rng = np.random.default_rng(12)
    ridge = (rng.integers(0, 5, size=(30, 40)) * (rng.random((30, 40)) < 0.5)).astype(
        np.uint8
    )
    # Transposed, as `_blur` hands it over.
    work = (rng.random((60, 50), dtype=np.float32) * 2.0).T
    arguments = (ridge, 10, 4.0, 6.5, 1.7, 2.0)
    ran = []
    call = kernels._call
    monkeypatch.setattr(
        kernels, "_call", lambda name, *a: ran.append(name) or call(name, *a)
    )
    compiled = work.copy(order="K")
    _cut_each(compiled, *arguments)
    assert "cut_each" in ran  # the kernel cut it
    assert 0.0 < compiled.mean() < 1.0
    _numpy_only(monkeypatch)
    plain = work.copy(order="K")
    _cut_each(plain, *arguments)
    assert plain.tobytes() == compiled.tobytes()


def test_the_depth_kernels_run_and_leave_other_layouts_to_numpy():
    _needs_numba()
    kernels.warm_up()
    ink = np.zeros((7, 9), np.uint8)
    ink[1:6, 1:8] = 1
    depth = ink.copy()
    assert kernels.erode_layers(depth) == 2
    assert depth.max() == 3
    ridge = depth.copy()
    assert kernels.spread_ridges(depth, ridge, 3)
    assert np.all(ridge[ink == 1] == 3)
    bump = ridge.copy()
    bump[0, 4] = 1  # a pixel sticking out of the stroke
    assert kernels.absorb_bumps(bump, 2) and bump[0, 4] == 3
    grown = ridge.copy()
    assert kernels.grow_into_paper(grown, 1) and np.all(grown == 3)
    for bad in (ink.astype(np.int16), np.zeros((9, 7), np.uint8).T, ink[:, :8]):
        before = depth.copy()
        assert kernels.erode_layers(bad) is None
        assert not kernels.spread_ridges(bad, depth, 3)
        assert np.array_equal(depth, before)
        assert not kernels.absorb_bumps(bad, 2)
        assert not kernels.grow_into_paper(bad, 1)
    # Read-only: numba would compile another version (on the GUI thread).
    read_only = ridge.copy()
    read_only.flags.writeable = False
    assert kernels.erode_layers(read_only) is None
    assert not kernels.spread_ridges(depth, read_only, 3)
    assert not kernels.absorb_bumps(read_only, 2)
    assert not kernels.grow_into_paper(read_only, 1)
    assert kernels.status().startswith("compiled")


def test_compiled_euler_numbers_count_what_numpy_counts():
    from core.strokes import _euler_numbers

    _needs_numba()
    kernels.warm_up()
    rng = np.random.default_rng(13)
    images = np.zeros((60, 40, 50), np.float32)
    for image, blob in zip(images, _blobs(14), strict=False):
        h, w = min(blob.shape[0], 38), min(blob.shape[1], 48)
        image[1 : h + 1, 1 : w + 1] = blob[:h, :w] * rng.uniform(0.3, 1.0)
    compiled = kernels.euler_numbers(images, 0.5)
    assert compiled is not None and len(set(compiled.tolist())) > 3
    assert np.array_equal(compiled, _euler_numbers(images >= 0.5))
    read_only = images.copy()
    read_only.flags.writeable = False
    for bad in (images[:, :, ::2], images.astype(np.float64), images[0], read_only):
        assert kernels.euler_numbers(bad, 0.5) is None


def test_compiled_row_product_gives_the_numpy_one_bit_for_bit(monkeypatch):
    _needs_numba()
    kernels.warm_up()
    rng = np.random.default_rng(15)
    cases = []
    for live in (0.0, 0.1, 0.5, 1.0):  # dense rows take NumPy's other branch
        a = rng.standard_normal((1, 300)).astype(np.float32)
        a *= rng.random((1, 300)) < live
        cases.append((a, rng.standard_normal((300, 70)).astype(np.float32)))
    compiled = [fast.row_product(a, W) for a, W in cases]
    out = np.empty((1, 70), np.float32)
    assert kernels.row_product(cases[1][0], cases[1][1], out)
    assert out.tobytes() == compiled[1].tobytes()
    for bad in (
        (cases[1][0][:, :299], cases[1][1], out),  # n differs
        (cases[1][0], cases[1][1].astype(np.float64), out),
        (cases[1][0], np.asfortranarray(cases[1][1]), out),
        (cases[1][0], cases[1][1], np.empty((2, 70), np.float32)),
    ):
        assert not kernels.row_product(*bad)
    _numpy_only(monkeypatch)
    for (a, W), result in zip(cases, compiled, strict=True):
        assert fast.row_product(a, W).tobytes() == result.tobytes()


def test_compiled_box_weights_give_the_numpy_ones_bit_for_bit(monkeypatch):
    from core.preprocess import _box_weights

    _needs_numba()
    kernels.warm_up()
    rng = np.random.default_rng(16)
    cases = [
        (int(rng.integers(1, 300)), 28, float(rng.uniform(0.3, 12)), float(offset))
        for offset in rng.uniform(-4, 4, size=40)
    ]
    compiled = [_box_weights(*case) for case in cases]
    out = np.empty((28, 10), np.float32)
    assert kernels.box_weights(0.5, 0.4, out)
    assert not kernels.box_weights(0.5, 0.4, out.T)  # not C-contiguous
    assert not kernels.box_weights(0.5, 0.4, out.astype(np.float64))
    _numpy_only(monkeypatch)
    assert out.tobytes() == _box_weights(10, 28, 0.4, 0.5).tobytes()
    for case, weights in zip(cases, compiled, strict=True):
        assert _box_weights(*case).tobytes() == weights.tobytes()


def test_the_cut_and_block_kernels_run_and_leave_other_layouts_to_numpy():
    _needs_numba()
    kernels.warm_up()
    work = np.full((4, 6), 0.5, np.float32)
    index = np.zeros((4, 6), np.uint8)
    index[:, 3:] = 1
    levels = np.zeros(256, np.float32)
    slopes = np.ones(256, np.float32)
    levels[1] = 0.5
    assert kernels.cut_each(work, index, levels, slopes)
    assert np.all(work[:, :3] == 1.0) and np.all(work[:, 3:] == 0.5)
    sums = np.zeros((2, 3), np.float32)
    assert kernels.block_sums(np.ones((4, 6), np.float32), 2, sums)
    assert np.all(sums == 4.0)
    short = np.ones(255, np.float32)
    for bad in (
        (work.T, index.T, levels, slopes),  # not C-contiguous
        (work, index[:, :5], levels, slopes),  # shapes differ
        (work, index, short, slopes),  # a table without every uint8 index
        (work.astype(np.float64), index, levels, slopes),
    ):
        assert not kernels.cut_each(*bad)
    read_only = np.ones((4, 6), np.float32)
    read_only.flags.writeable = False
    for crop, q, out in (
        (np.ones((4, 6), np.float32).T, 2, np.zeros((3, 2), np.float32)),
        (np.ones((4, 6), np.float32), 2, np.zeros((2, 2), np.float32)),
        (np.ones((4, 6), np.float64), 2, sums),
        (read_only, 2, sums),
        (np.ones((4, 6), np.float32), 0, sums),
    ):
        assert not kernels.block_sums(crop, q, out)


def test_kernels_missing_from_numbas_cache_are_compiled_in_a_child(monkeypatch):
    _needs_numba()
    kernels.warm_up()  # in this process: the cache now holds every kernel
    assert not kernels._missing_from_cache()
    runs = []
    monkeypatch.setattr(kernels.subprocess, "run", lambda *a, **k: runs.append(a))
    assert not kernels.compile_elsewhere()
    assert not runs  # nothing to compile: no child

    class Uncached:  # a kernel numba has no index for (or whose source changed)
        class _cache:
            class _cache_file:
                @staticmethod
                def _load_index():
                    return {}

    monkeypatch.setitem(kernels._kernels, "adam", Uncached())
    assert kernels._missing_from_cache()
    monkeypatch.setitem(kernels._kernels, "adam", object())  # numba's internals moved
    assert kernels._missing_from_cache()
    monkeypatch.undo()
    # The child really compiles (here: finds it all cached) with this checkout's core.
    monkeypatch.setattr(kernels, "_missing_from_cache", lambda: True)
    assert kernels.compile_elsewhere()


@pytest.mark.parametrize("reading", [(20.0, 3.0), (-30.0, 0.6)])
def test_a_drawing_read_turned_and_widened_uses_the_compiled_kernels(
    monkeypatch, reading
):
    """Widened ink in column order made the conversion run NumPy's stroke passes."""
    _needs_numba()
    kernels.warm_up()
    from core import stroke_depth
    from core.preprocess import convert_drawing
    from core.strokes import render_strokes

    def numpy_pass(*arguments):
        raise AssertionError("a stroke pass ran in NumPy, not compiled")

    monkeypatch.setattr(stroke_depth, "_erode_layers", numpy_pass)
    monkeypatch.setattr(stroke_depth, "_spread_ridges", numpy_pass)
    # A small, narrow, slanted 7 drawn with a 14 px pen, as the hands read so draw.
    seven = render_strokes(
        [np.array([(125.0, 90), (150, 90), (130, 190)])], 14, (280, 280)
    )
    canvas = (seven * 255).astype(np.uint8)
    turn, width = reading
    assert convert_drawing(canvas, "mnist", True, widen=width, turn=turn).image.any()


def test_converting_a_drawing_never_loads_or_compiles_the_kernels(fresh_kernels):
    # The app converts drawings on its GUI thread: loading numba there (or
    # compiling a kernel) would freeze the window; warm_up does it elsewhere.
    from core.preprocess import convert_drawing

    canvas = np.zeros((280, 280), np.uint8)
    canvas[60:220, 120:150] = 255
    assert convert_drawing(canvas, "mnist", ink_is_bright=True) is not None
    assert not kernels._loaded
