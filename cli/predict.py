"""`predict`: classify image files (PNG, JPEG, ...) with a saved model.

Every image is converted the way the model's dataset was made
(`core.preprocess.canvas_to_image`) and classified on its own; its line is printed
(and flushed) at once, so a long batch shows results as they come and nothing
already known is lost. An image that cannot be read gets one error line on stderr
and the others are still classified.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from cli.images import ImageFileError, read_grey
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
        description=HELP + ". Prints PATH<TAB>none for an image with nothing drawn. "
        "An unreadable image gets an error line on stderr, the others are still "
        "classified, and the exit code is then 1.",
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
    """Read, convert and classify every image, printing each result as it comes."""
    from cli.commands import PROG

    model = load_model(args.model)
    ink_is_bright = {"auto": None, "dark": False, "bright": True}[args.ink]
    output = _JsonList() if args.json else _Lines()
    failed = 0
    for path in args.images:
        try:
            image = canvas_to_image(read_grey(path), model.image_shape, ink_is_bright)
        except ImageFileError as exc:
            problem = str(exc)
        except MemoryError:
            problem = f"not enough memory to read {path}"
        else:
            scores = None if image is None else model.predict_proba(image)
            output.write(_result(path, scores, model.class_names))
            continue
        print(f"{PROG}: error: {printable(problem)}", file=sys.stderr, flush=True)
        failed += 1
    output.close()
    return 1 if failed else 0


class _Lines:
    """PATH<TAB>DIGIT<TAB>CONFIDENCE, or PATH<TAB>none, one line per image."""

    def write(self, item: dict) -> None:
        path = printable(item["path"])
        if item["digit"] is None:
            line = f"{path}\tnone"
        else:
            line = f"{path}\t{printable(item['digit'])}\t{item['confidence']:.4f}"
        print(line, flush=True)

    def close(self) -> None:
        pass


class _JsonList:
    """A JSON array written one element at a time (as ``json.dumps(indent=2)``)."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, item: dict) -> None:
        text = json_text(item).replace("\n", "\n  ")
        print("[\n  " if self.count == 0 else ",\n  ", text, sep="", end="", flush=True)
        self.count += 1

    def close(self) -> None:
        print("\n]" if self.count else "[]", flush=True)


def _result(path, scores, class_names) -> dict:
    if scores is None:
        return {"path": path, "digit": None, "confidence": None, "probabilities": None}
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
