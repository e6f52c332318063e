"""`info`: what a model file holds (metadata, architecture, history, metrics)."""

from __future__ import annotations

import argparse

from cli.output import json_text, printable
from cli.report import history_summary, training_data_words
from core.hand_reading import reading_phrase
from core.judgement import Judge
from core.messages import plural
from core.model_io import METRICS, SavedModel, load_model

NAME = "info"
HELP = "show a model file's architecture, training settings, history and metrics"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(NAME, help=HELP, description=HELP + ".")
    parser.add_argument("--model", required=True, metavar="M", help="model file (.npz)")
    parser.add_argument(
        "--json", action="store_true", help="print the stored metadata as JSON"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the model's description."""
    model = load_model(args.model)
    if args.json:
        print(json_text(describe(model)))
    else:
        lines = [f"Model file      {args.model}", *text_lines(model)]
        print("\n".join(printable(line) for line in lines))
    return 0


def describe(model: SavedModel) -> dict:
    """Return the description of a loaded model, for `cli.output.json_text`."""
    network = model.network
    return {
        "format_version": model.format_version,
        "created": model.created,
        "app_version": model.app_version,
        "dataset_name": model.dataset_name,
        "layer_sizes": [int(n) for n in network.layer_sizes],
        "activation": network.activation,
        "output": network.output,
        "init": network.init,
        "parameter_count": int(network.parameter_count),
        "normalization": {
            "kind": model.normalization.kind,
            "max_value": model.normalization.max_value,
        },
        "image_shape": list(model.image_shape),
        "class_names": list(model.class_names),
        "config": model.config,
        "phases": model.phases,
        "history": model.history,
        "metrics": model.metrics,
        "hand_width": model.hand_width,
        "hand_turn": model.hand_turn,
        "judgement": model.judgement,
    }


def text_lines(model: SavedModel) -> list[str]:
    """Human-readable lines describing a loaded model (print them `printable`)."""
    network = model.network
    height, width = model.image_shape
    sizes = "-".join(str(int(n)) for n in network.layer_sizes)
    lines = [
        f"Created         {model.created or 'unknown'} by Digit Studio "
        f"{model.app_version or 'unknown'} (model format {model.format_version})",
        f"Dataset         {model.dataset_name or 'unknown'} ({height}x{width} images, "
        f"{len(model.class_names)} classes: {' '.join(model.class_names)})",
        f"Network         {sizes}, {network.activation} hidden units, "
        f"{network.output} output, {network.init} initialisation",
        f"Parameters      {int(network.parameter_count):,}",
        f"Inputs          {_normalization_text(model)}",
    ]
    reading = reading_phrase(model.hand_turn, model.hand_width)
    if reading:
        lines.append(
            f"Drawings        read {reading}, as a fine-tune found its hand's "
            "drawings read best"
        )
    if model.config:
        lines.append(f"Training        {_config_text(model.config)}")
    if len(model.phases) > 1:
        for number, phase in enumerate(model.phases, start=1):
            label = "Phases          " if number == 1 else " " * 16
            lines.append(f"{label}{number}. {_phase_text(phase)}")
    summary = history_summary(model.history)
    lines.append(f"History         {summary[0]}")
    lines += [f"                {line}" for line in summary[1:]]
    if model.metrics:
        lines.append("Metrics         " + _metrics_text(model.metrics))
    if model.judgement is not None:
        lines.append(f"Not sure        {Judge.from_dict(model.judgement).summary()}")
    return lines


def _normalization_text(model: SavedModel) -> str:
    normalization = model.normalization
    scale = f"pixels / {normalization.max_value:g}"
    if normalization.kind == "standardize":
        return f"standardised per pixel ({scale}, minus the mean, over the std)"
    return f"scaled to [0, 1] ({scale})"


def _config_text(config: dict) -> str:
    parts = [
        f"{config.get('optimizer', '?')} lr {config.get('learning_rate', '?')}",
        f"{config.get('schedule', 'constant')} schedule",
    ]
    batch = config.get("batch_size")
    parts.append("full batch" if batch == 0 else f"batch {batch}")
    epochs = config.get("epochs")
    parts.append(plural(epochs, "epoch") if isinstance(epochs, int) else "? epochs")
    for key, label in (("l2", "l2"), ("dropout", "dropout")):
        if config.get(key):
            parts.append(f"{label} {config[key]}")
    if config.get("early_stopping_patience"):
        parts.append(f"early stopping after {config['early_stopping_patience']}")
    augment = config.get("augment")
    if isinstance(augment, dict):
        active = [
            f"{key} {value:g}"
            for key, value in augment.items()
            if key not in ("elastic_grid", "probability")
            and isinstance(value, (int, float))
            and value
        ]
        if active:
            parts.append("augment " + ", ".join(active))
    parts += training_data_words(config)
    parts.append(f"seed {config.get('seed', '?')}")
    return ", ".join(parts)


# How a phase kind (core.model_io.PHASE_KINDS) reads in a sentence.
_PHASE_WORDS = {"train": "train", "fine_tune": "fine-tune", "continue": "continued"}


def _phase_text(phase: dict) -> str:
    kind = _PHASE_WORDS.get(phase["kind"], phase["kind"])
    metrics = phase["metrics"]
    text = f"{kind} on {phase['dataset_name'] or 'unknown data'}"
    config = phase["config"]
    if config:
        text += (
            f", {config.get('optimizer', '?')} lr {config.get('learning_rate', '?')}"
        )
    epochs = metrics.get("epochs_completed")
    if isinstance(epochs, int):
        text += f", {plural(epochs, 'epoch')} ({metrics.get('stopped')})"
    accuracy = metrics.get("validation_accuracy")
    if isinstance(accuracy, (int, float)):
        text += f", validation accuracy {100 * accuracy:.2f}%"
    personal = metrics.get("personal_images")
    if personal:
        text += f", {personal:,} personal drawings"
    for change in phase.get("changes", []):
        momentum = change.get("momentum")
        text += f"; lr {change['learning_rate']:g}" + (
            f", momentum {momentum:g}" if momentum is not None else ""
        )
        text += f" from epoch {change['at_epoch']:.3g}"
    return text


def _metrics_text(metrics: dict) -> str:
    parts = []
    for key in (
        "validation_accuracy",
        "validation_loss",
        "train_accuracy",
        "train_loss",
    ):
        value = metrics.get(key)
        if isinstance(value, (int, float)):
            label = key.replace("_", " ")
            text = f"{100 * value:.2f}%" if "accuracy" in key else f"{value:.4f}"
            parts.append(f"{label} {text}")
    if metrics.get("validation_images"):
        parts.append(f"on {metrics['validation_images']:,} held-out images")
    if isinstance(metrics.get("epochs_completed"), int):
        stopped = metrics.get("stopped") or "completed"
        parts.append(f"{plural(metrics['epochs_completed'], 'epoch')} ({stopped})")
    if isinstance(metrics.get("best_epoch"), int):
        parts.append(f"kept epoch {metrics['best_epoch']}")
    if isinstance(metrics.get("training_seconds"), (int, float)):
        parts.append(f"{metrics['training_seconds']:.1f} s of training")
    if isinstance(metrics.get("training_images"), int):
        text = f"{metrics['training_images']:,} training images"
        if metrics.get("personal_images"):
            text += f" (with {metrics['personal_images']:,} personal drawings)"
        parts.append(text)
    if isinstance(metrics.get("subset"), int):
        parts.append(f"subset of {metrics['subset']:,}")
    for key, value in metrics.items():
        if key in METRICS:
            continue
        if isinstance(value, float):
            parts.append(f"{key.replace('_', ' ')} {value:.4g}")
        elif isinstance(value, (int, str)):
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts)
