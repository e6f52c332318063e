"""`predict`: classify image files (PNG, JPEG, ...) with a saved model.

Every image is converted the way the model's dataset was made
(`core.preprocess.canvas_to_image`), then all of them go through the network in
one batch.
"""

from __future__ import annotations

import argparse

import numpy as np

from cli.images import read_grey
from cli.output import json_text, printable
from core.model_io import load_model
from core.preprocess import canvas_to_image

NAME = "predict"
HELP = "classify image files with a model (prints PATH, DIGIT, CONFIDENCE)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help=HELP,
        description=HELP + ". Prints PATH<TAB>none for an image with nothing drawn.",
    )
    parser.add_argument("--model", required=True, metavar="M", help="model file (.npz)")
    parser.add_argument(
        "--ink",
        choices=("auto", "dark", "bright"),
        default="auto",
        help="dark ink on light paper, bright ink on dark, or auto-detect (default)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON with all class probabilities"
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Read, convert and classify every image, then print one result per image."""
    model = load_model(args.model)
    ink_is_bright = {"auto": None, "dark": False, "bright": True}[args.ink]
    inputs: list[np.ndarray] = []
    drawn: list[int | None] = []
    for path in args.images:
        image = canvas_to_image(read_grey(path), model.image_shape, ink_is_bright)
        if image is None:
            drawn.append(None)
        else:
            drawn.append(len(inputs))
            inputs.append(image)
    probabilities = np.empty((0, len(model.class_names)), np.float32)
    if inputs:
        probabilities = model.predict_proba(np.stack(inputs))
    results = [
        _result(path, row, probabilities, model.class_names)
        for path, row in zip(args.images, drawn, strict=True)
    ]
    if args.json:
        print(json_text(results))
    else:
        for item in results:
            path = printable(item["path"])
            if item["digit"] is None:
                print(f"{path}\tnone")
            else:
                digit = printable(item["digit"])
                print(f"{path}\t{digit}\t{item['confidence']:.4f}")
    return 0


def _result(path, row, probabilities, class_names) -> dict:
    if row is None:
        return {"path": path, "digit": None, "confidence": None, "probabilities": None}
    scores = probabilities[row]
    best = int(np.argmax(scores))
    return {
        "path": path,
        "digit": class_names[best],
        "confidence": round(float(scores[best]), 6),
        "probabilities": {
            name: round(float(p), 6)
            for name, p in zip(class_names, scores, strict=True)
        },
    }
