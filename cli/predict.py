"""`predict`: classify image files (PNG, JPEG, ...) with a saved model.

Every image is converted the way the model's dataset was made
(`core.preprocess.convert_drawing`), classified on its own and judged as the Draw tab
judges a drawing (`core.calibration.model_judge`): a digit, not sure, or nothing
drawn. Its line is printed (and flushed) at once, so a long batch shows results as
they come and nothing already known is lost. An image that cannot be read gets one
error line on stderr and the others are still classified.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from cli.images import ImageFileError, read_grey
from cli.output import json_text, printable
from core.calibration import model_judge
from core.judgement import Judge, Verdict, not_a_digit_output
from core.model_io import SavedModel, load_model
from core.preprocess import convert_drawing

NAME = "predict"
HELP = "classify image files with a model (prints PATH, DIGIT, CONFIDENCE)"
NOT_SURE = "not-sure"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help=HELP,
        description=HELP + f". Prints PATH<TAB>{NOT_SURE}<TAB>CONFIDENCE when the "
        "model is not sure it is a digit (as the Draw tab says 'Not sure'; "
        "CONFIDENCE is the best digit's probability) and PATH<TAB>none for an image "
        "with nothing drawn. An unreadable image gets an error line on stderr, the "
        "others are still classified, and the exit code is then 1.",
    )
    parser.add_argument("--model", required=True, metavar="M", help="model file (.npz)")
    parser.add_argument(
        "--ink",
        choices=("auto", "dark", "bright"),
        default="auto",
        help="dark ink on light paper, bright ink on dark, or auto-detect (default)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON: each image's path, verdict (digit, not_sure or "
        "nothing_drawn), digit, confidence and class probabilities",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Read, convert and classify every image, printing each result as it comes."""
    from cli.commands import PROG

    model = load_model(args.model)
    judge = _judge(model, PROG)
    ink_is_bright = {"auto": None, "dark": False, "bright": True}[args.ink]
    output = _JsonList() if args.json else _Lines()
    # A hand's fine-tuned model reads drawings as it found them read best.
    widen, turn = model.hand_width, model.hand_turn
    failed = 0
    for path in args.images:
        try:
            conversion = convert_drawing(
                read_grey(path),
                model.image_shape,
                ink_is_bright,
                widen=widen,
                turn=turn,
            )
        except ImageFileError as exc:
            problem = str(exc)
        except MemoryError:
            problem = f"not enough memory to read {path}"
        else:
            scores = verdict = None
            if conversion is None:
                verdict = judge.judge(None)
            else:
                scores = model.predict_proba(conversion.image)
                verdict = judge.judge(
                    scores,
                    conversion.image,
                    conversion.size,
                    conversion.wide_pen,
                    conversion.drawing,
                )
            output.write(_result(path, verdict, scores, model.class_names))
            continue
        print(f"{PROG}: error: {printable(problem)}", file=sys.stderr, flush=True)
        failed += 1
    output.close()
    return 1 if failed else 0


def _judge(model: SavedModel, prog: str) -> Judge:
    """Return the model's judgement; without one (a warning says why) all answer."""
    judge, reason = model_judge(model)
    if judge is not None:
        return judge
    print(f"{prog}: warning: {printable(reason)}", file=sys.stderr, flush=True)
    names = tuple(model.class_names)
    other = not_a_digit_output(names)
    return Judge(len(names) - (other is not None), other, -1.0, 0.0)


class _Lines:
    """One line per image: PATH, then DIGIT or not-sure, then CONFIDENCE; or none."""

    def write(self, item: dict) -> None:
        path = printable(item["path"])
        if item["verdict"] == "nothing_drawn":
            line = f"{path}\tnone"
        else:
            answer = item["digit"] if item["verdict"] == "digit" else NOT_SURE
            line = f"{path}\t{printable(answer)}\t{item['confidence']:.4f}"
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


def _result(path, verdict: Verdict, scores, class_names) -> dict:
    if scores is None:
        return {
            "path": path,
            "verdict": verdict.verdict,
            "digit": None,
            "confidence": None,
            "probabilities": None,
        }
    return {
        "path": path,
        "verdict": verdict.verdict,
        "digit": class_names[verdict.digit],
        "confidence": round(float(verdict.confidence), 6),
        "probabilities": {
            name: round(float(p), 6)
            for name, p in zip(class_names, np.asarray(scores), strict=True)
        },
    }
