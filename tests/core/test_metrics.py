import numpy as np
import pytest

from core.datasets import Dataset, Normalization
from core.metrics import MetricsError, evaluate, loss_and_accuracy
from core.network import MLP


def _pointer_network():
    """A 4-pixel, 3-class linear network that predicts the brightest of pixels 0-2."""
    net = MLP((4, 3), init="xavier", dtype=np.float64)
    net.weights[0][...] = 0.0
    net.weights[0][[0, 1, 2], [0, 1, 2]] = 50.0
    net.biases[0][...] = 0.0
    return net


def _dataset():
    # Predictions (brightest pixel): 0, 0, 1, 2, 2, 2; labels: 0, 1, 1, 2, 2, 0.
    bright = [0, 0, 1, 2, 2, 2]
    images = np.zeros((6, 2, 2), np.uint8)
    images.reshape(6, 4)[np.arange(6), bright] = 255
    labels = np.array([0, 1, 1, 2, 2, 0], np.uint8)
    return Dataset("tiny", images, labels, ("x", "y", "z"), 255)


def test_confusion_matrix_precision_and_recall_by_hand():
    result = evaluate(_pointer_network(), _dataset())
    assert result.confusion.tolist() == [[1, 0, 1], [1, 1, 0], [0, 0, 2]]
    assert result.accuracy == pytest.approx(4 / 6)
    np.testing.assert_allclose(result.precision, [1 / 2, 1 / 1, 2 / 3])
    np.testing.assert_allclose(result.recall, [1 / 2, 1 / 2, 2 / 2])
    assert result.predictions.tolist() == [0, 0, 1, 2, 2, 2]
    assert result.probabilities.shape == (6, 3)
    # p(predicted) = e^50 / (e^50 + 2): a wrong answer costs about 50 nats.
    assert result.loss == pytest.approx(2 * 50 / 6, rel=1e-3)


def test_class_never_predicted_has_zero_precision():
    net = _pointer_network()
    net.weights[0][...] = 0.0
    net.biases[0][...] = [1.0, 0.0, 0.0]  # always predicts class 0
    result = evaluate(net, _dataset())
    assert result.precision.tolist()[1:] == [0.0, 0.0]
    assert result.recall.tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("batch_size", [1, 4, 5, 2048])
def test_results_do_not_depend_on_the_batch_size(batch_size):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(37, 3, 3), dtype=np.uint8)
    dataset = Dataset(
        "noise",
        images,
        rng.integers(0, 4, 37, dtype=np.uint8),
        ("a", "b", "c", "d"),
        255,
    )
    net = MLP((9, 7, 4), seed=1)
    norm = Normalization.fit("standardize", images, 255)
    reference = evaluate(net, dataset, batch_size=37, normalization=norm)
    result = evaluate(net, dataset, batch_size=batch_size, normalization=norm)
    np.testing.assert_allclose(result.probabilities, reference.probabilities, rtol=1e-5)
    assert result.loss == pytest.approx(reference.loss, rel=1e-5)
    assert np.array_equal(result.confusion, reference.confusion)
    expected = net.predict_proba(norm.apply(images))
    np.testing.assert_allclose(result.probabilities, expected, rtol=1e-5)
    loss, accuracy = loss_and_accuracy(net, dataset, norm, batch_size)
    assert (loss, accuracy) == pytest.approx((reference.loss, reference.accuracy))


def test_mismatched_network_is_rejected():
    with pytest.raises(MetricsError, match="expects 9 inputs .* 4 pixels"):
        evaluate(MLP((9, 3)), _dataset())
    with pytest.raises(MetricsError, match="3 classes but the network has only 2"):
        evaluate(MLP((4, 2)), _dataset())


def test_a_given_work_buffer_is_reused_and_a_wrong_one_ignored():
    dataset = _dataset()
    net = MLP((4, 5, 3), seed=2)
    expected = loss_and_accuracy(net, dataset)
    buffer = np.full((8, 4), np.nan, np.float32)
    assert loss_and_accuracy(net, dataset, buffer=buffer) == expected
    assert not np.isnan(buffer[:6]).any() and np.isnan(buffer[6:]).all()
    assert loss_and_accuracy(net, dataset, buffer=np.empty((2, 3), np.float32)) == (
        expected
    )


def _with_not_a_digit():
    """The pointer network with a 4th output, "not a digit", that wins on pixel 3."""
    net = MLP((4, 4), init="xavier", dtype=np.float64)
    net.weights[0][...] = 0.0
    net.weights[0][[0, 1, 2, 3], [0, 1, 2, 3]] = 50.0
    # Pixel 3 also nudges class 1, the best guess among the real classes there.
    net.weights[0][3, 1] = 10.0
    net.biases[0][...] = 0.0
    return net


def test_a_not_a_digit_output_is_not_a_guess_and_is_counted_apart():
    # Brightest pixels: 0, 3 (turned away, best guess 1), 1, 2, 3 (best guess 1), 2.
    bright = [0, 3, 1, 2, 3, 2]
    images = np.zeros((6, 2, 2), np.uint8)
    images.reshape(6, 4)[np.arange(6), bright] = 255
    labels = np.array([0, 1, 1, 2, 0, 0], np.uint8)
    dataset = Dataset("tiny", images, labels, ("x", "y", "z"), 255)
    result = evaluate(_with_not_a_digit(), dataset)
    assert result.guesses.tolist() == [0, 1, 1, 2, 1, 2]
    assert result.accuracy == pytest.approx(4 / 6)
    assert result.turned_away == pytest.approx(2 / 6)
    assert result.predictions.tolist() == [0, 3, 1, 2, 3, 2]
    assert result.confusion.shape == (4, 4)
    assert result.confusion[:, 3].tolist() == [1, 1, 0, 0]
    loss, accuracy = loss_and_accuracy(_with_not_a_digit(), dataset)
    assert accuracy == pytest.approx(result.accuracy)
    # With the class named in the data (a validation part of a run with made-up
    # non-digits), it is still no guess.
    named = Dataset("tiny", images, labels, ("x", "y", "z", "not a digit"), 255)
    assert loss_and_accuracy(_with_not_a_digit(), named)[1] == pytest.approx(4 / 6)
    assert evaluate(_with_not_a_digit(), named).turned_away == pytest.approx(2 / 6)


def test_a_network_with_one_output_per_class_turns_nothing_away():
    result = evaluate(_pointer_network(), _dataset())
    assert result.turned_away == 0.0
    np.testing.assert_array_equal(result.guesses, result.predictions)


def test_evaluate_can_deskew_first():
    from core.datasets import load_bundled
    from core.slant import deskew

    sample = load_bundled("mnist-sample").subset(np.arange(200))
    net = MLP((784, 10), seed=3)
    norm = Normalization.fit("scale", sample.images, 255)
    upright = Dataset("upright", deskew(sample.images), sample.labels)
    expected = evaluate(net, upright, normalization=norm, batch_size=64)
    result = evaluate(net, sample, normalization=norm, batch_size=64, deskew=True)
    np.testing.assert_allclose(result.probabilities, expected.probabilities)
    assert result.accuracy == expected.accuracy
    plain = evaluate(net, sample, normalization=norm, batch_size=64)
    assert not np.allclose(plain.probabilities, expected.probabilities)
