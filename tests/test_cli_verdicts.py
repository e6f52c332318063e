"""`predict` says digit, not sure or nothing drawn; `evaluate` reads "not a digit"."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtGui import QImage

import main
from core.datasets import DIGIT_CLASS_NAMES, Normalization, load_bundled
from core.idx import write_idx
from core.judgement import NOT_A_DIGIT, Judge
from core.metrics import evaluate
from core.model_io import ModelMetadata, load_model, save_model
from core.network import MLP
from core.run import split
from core.slant import deskew


def _run(capsys, *argv):
    code = main.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _save_png(path, array):
    array = np.ascontiguousarray(array, np.uint8)
    height, width = array.shape
    image = QImage(array.data, width, height, width, QImage.Format.Format_Grayscale8)
    assert image.save(str(path))


def _model(
    path, not_a_digit_bias=None, margin=0.5, deskewed=False, drawing_margin=None
):
    """Nearest class means as a linear layer; optionally an 11th "not a digit"."""
    sample = load_bundled("mnist-sample")
    normalization = Normalization.fit("scale", sample.images, 255)
    inputs = normalization.apply(sample.images[:2000])
    labels = sample.labels[:2000]
    centroids = np.stack([inputs[labels == k].mean(axis=0) for k in range(10)])
    outputs = 10 if not_a_digit_bias is None else 11
    network = MLP((784, outputs), seed=0)
    network.weights[0][...] = 0.0
    network.weights[0][:, :10] = 8 * centroids.T
    network.biases[0][:10] = -4 * (centroids**2).sum(axis=1)
    names = DIGIT_CLASS_NAMES
    if not_a_digit_bias is not None:
        network.biases[0][10] = not_a_digit_bias
        names = (*names, NOT_A_DIGIT)
    other = None if not_a_digit_bias is None else 10
    save_model(
        path,
        network,
        ModelMetadata(
            normalization=normalization,
            image_shape=(28, 28),
            class_names=names,
            dataset_name="mnist-sample",
            config={"validation_fraction": 0.1, "seed": 0, "deskew": deskewed},
            judgement=Judge(
                10, other, min_margin=margin, drawing_margin=drawing_margin
            ).to_dict(),
        ),
    )
    return path


def _drawn(digit_image):
    """A bundled digit drawn big on a 280 px canvas, dark ink on white."""
    canvas = np.zeros((280, 280), np.uint8)
    canvas[40:236, 40:236] = np.kron(digit_image, np.ones((7, 7), np.uint8))
    return 255 - canvas


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    sample = load_bundled("mnist-sample")
    digit = folder / "digit.png"
    _save_png(digit, _drawn(sample.images[0]))
    blank = folder / "blank.png"
    _save_png(blank, np.full((60, 60), 255, np.uint8))
    return digit, blank, int(sample.labels[0])


def test_predict_json_says_digit_with_the_best_digit(tmp_path, capsys, images):
    model = _model(tmp_path / "m.npz", margin=0.3)
    digit, blank, label = images
    code, out, err = _run(capsys, "predict", "--model", model, "--json", digit, blank)
    assert code == 0, err
    first, second = json.loads(out)
    assert set(first) == {"path", "verdict", "digit", "confidence", "probabilities"}
    assert first["verdict"] == "digit"
    assert first["digit"] == str(label)
    assert first["confidence"] == first["probabilities"][str(label)]
    assert sorted(first["probabilities"]) == list(DIGIT_CLASS_NAMES)
    assert second == {
        "path": str(blank),
        "verdict": "nothing_drawn",
        "digit": None,
        "confidence": None,
        "probabilities": None,
    }


def test_predict_says_not_sure_with_the_best_guess(tmp_path, capsys, images):
    # "Not a digit" always wins: every drawing is turned away, its digit still told.
    model = _model(tmp_path / "m.npz", not_a_digit_bias=1e3, margin=0.0)
    digit, blank, label = images
    code, out, err = _run(capsys, "predict", "--model", model, "--json", digit)
    assert code == 0, err
    (item,) = json.loads(out)
    assert item["verdict"] == "not_sure"
    assert item["digit"] in DIGIT_CLASS_NAMES
    assert item["probabilities"][NOT_A_DIGIT] > 0.99
    assert item["confidence"] == item["probabilities"][item["digit"]]
    code, out, err = _run(capsys, "predict", "--model", model, digit, blank)
    assert code == 0, err
    lines = out.splitlines()
    path, answer, confidence = lines[0].split("\t")
    assert (path, answer) == (str(digit), "not-sure")
    assert float(confidence) == pytest.approx(item["confidence"], abs=1e-4)
    assert lines[1] == f"{blank}\tnone"


def test_predict_plain_line_for_a_sure_digit(tmp_path, capsys, images):
    model = _model(tmp_path / "m.npz", not_a_digit_bias=-1e3, margin=-1.0)
    digit, _, label = images
    code, out, err = _run(capsys, "predict", "--model", model, digit)
    assert code == 0, err
    path, answer, confidence = out.strip().split("\t")
    assert (path, answer) == (str(digit), str(label))
    assert 0.0 < float(confidence) <= 1.0


def test_evaluate_counts_the_best_digit_and_the_turned_away_apart(tmp_path, capsys):
    sample = load_bundled("mnist-sample")
    bias = 0.0
    model_path = _model(tmp_path / "m.npz", not_a_digit_bias=bias)
    model = load_model(model_path)
    # A bias that turns away about a tenth of the digits.
    held_out = split(sample, 0.1, 0)[1].materialize()
    logits = model.normalization.apply(held_out.images) @ model.network.weights[0]
    logits += model.network.biases[0]
    bias = float(np.quantile(logits[:, :10].max(axis=1), 0.1))
    model_path = _model(tmp_path / "m.npz", not_a_digit_bias=bias)
    model = load_model(model_path)
    expected = evaluate(model.network, held_out, normalization=model.normalization)
    assert 0.05 < expected.turned_away < 0.2
    code, out, err = _run(
        capsys, "evaluate", "--model", model_path, "--split", "held-out", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["accuracy"] == pytest.approx(expected.accuracy)
    assert report["turned_away"] == pytest.approx(expected.turned_away)
    assert report["class_names"][-1] == NOT_A_DIGIT
    confusion = np.array(report["confusion"])
    assert confusion[:, 10].sum() == round(expected.turned_away * len(held_out))
    code, out, err = _run(
        capsys, "evaluate", "--model", model_path, "--split", "held-out"
    )
    assert code == 0, err
    assert f"Not a digit {100 * expected.turned_away:.2f}%" in out
    assert NOT_A_DIGIT in out


def test_evaluate_says_how_many_predict_would_answer_not_sure(tmp_path, capsys):
    # The images whose best digit leads "not a digit" by less than the model's
    # margin (set here near the leads' 20% point) are those `predict` answers
    # "not sure".
    sample = load_bundled("mnist-sample")
    model_path = _model(tmp_path / "m.npz", not_a_digit_bias=-2.0)
    held_out = split(sample, 0.1, 0)[1].materialize()
    probabilities = load_model(model_path).predict_proba(held_out.images)
    lead = probabilities[:, :10].max(axis=1) - probabilities[:, 10]
    margin = float(np.quantile(lead, 0.2))
    model_path = _model(tmp_path / "m.npz", not_a_digit_bias=-2.0, margin=margin)
    expected = float(np.mean(lead < margin))
    assert 0.1 < expected < 0.3
    code, out, err = _run(
        capsys, "evaluate", "--model", model_path, "--split", "held-out", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["not_sure"] == pytest.approx(expected)
    _, out, _ = _run(capsys, "evaluate", "--model", model_path, "--split", "held-out")
    assert f"Not sure   {100 * expected:.2f}%" in out


def test_evaluate_reads_deskewed_for_a_deskewed_model(tmp_path, capsys):
    sample = load_bundled("mnist-sample")
    model_path = _model(tmp_path / "m.npz", deskewed=True)
    model = load_model(model_path)
    images = sample.images[:300]
    labels = sample.labels[:300]
    write_idx(tmp_path / "images.idx", images)
    write_idx(tmp_path / "labels.idx", labels)
    code, out, err = _run(
        capsys,
        "evaluate",
        "--model",
        model_path,
        "--images",
        tmp_path / "images.idx",
        "--labels",
        tmp_path / "labels.idx",
        "--json",
    )
    assert code == 0, err
    probabilities = model.network.predict_proba(
        model.normalization.apply(deskew(images).reshape(300, -1))
    )
    expected = float((probabilities.argmax(axis=1) == labels).mean())
    assert json.loads(out)["accuracy"] == pytest.approx(expected)
    plain = float((model.predict_proba(images).argmax(1) == labels).mean())
    assert plain == pytest.approx(expected)


def test_predict_reads_dataset_sized_files_as_the_dataset_has_them(tmp_path, capsys):
    # MNIST's test digits saved as 28x28 files: `predict` answers what the model
    # answers on the stored images (their strokes are not reworked at that scale).
    sample = load_bundled("mnist-sample")
    model_path = _model(tmp_path / "m.npz", margin=0.3)
    paths = []
    for index in range(40):
        paths.append(tmp_path / f"{index}.png")
        _save_png(paths[-1], sample.images[index])
    code, out, err = _run(capsys, "predict", "--model", model_path, "--json", *paths)
    assert code == 0, err
    answers = json.loads(out)
    expected = load_model(model_path).predict_proba(sample.images[:40])
    names = DIGIT_CLASS_NAMES
    read = np.array([[a["probabilities"][n] for n in names] for a in answers])
    assert np.mean(np.abs(read - expected).max(axis=1) < 1e-4) >= 0.9


def test_predict_holds_drawings_to_their_own_margin(tmp_path, capsys, images):
    # Nothing clears the drawings' margin of 1 ("not a digit" always has a little):
    # the drawing is not sure, the same digit as a 28x28 file is answered.
    model = _model(
        tmp_path / "m.npz", not_a_digit_bias=0.0, margin=-1.0, drawing_margin=1.0
    )
    digit, _, label = images
    small = tmp_path / "small.png"
    _save_png(small, load_bundled("mnist-sample").images[0])
    code, out, err = _run(capsys, "predict", "--model", model, "--json", digit, small)
    assert code == 0, err
    drawn, stored = json.loads(out)
    assert (drawn["verdict"], drawn["digit"]) == ("not_sure", str(label))
    assert (stored["verdict"], stored["digit"]) == ("digit", str(label))
