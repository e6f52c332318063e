"""Converting, predicting and tracing one drawing never hands work to BLAS's threads.

OpenBLAS's thread count is the same for the whole process (training may use all of
them), and on a busy machine a small product split across its threads waits tens
of milliseconds for them. The drawing's own products run on the calling thread
(`core.fast.product_here`): with two BLAS threads, the other thread does no work.
Measured in a fresh interpreter, where the BLAS threads are the only other threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, time
import numpy as np
from core.blas_threads import other_threads_cpu
from core.network import MLP
from core.neurons import trace
from core.preprocess import convert_drawing

rng = np.random.default_rng(0)
canvases = []
for pen in (4, 12, 30):
    canvas = np.zeros((280, 280), np.uint8)
    t = np.linspace(0, 2 * np.pi, 400)
    ys = (140 + 90 * np.sin(t)).astype(int)
    xs = (140 + 50 * np.cos(t) + 0.3 * (ys - 140)).astype(int)
    half = pen // 2
    for y, x in zip(ys, xs):
        canvas[y - half : y + half + 1, x - half : x + half + 1] = 255
    canvases.append(canvas)
# OpenBLAS splits one sample's product from about 784 x 1024 on (a wide layer).
network = MLP((784, 1024, 256, 11), seed=0)

def drawings():
    for _ in range(40):
        for canvas in canvases:
            image = convert_drawing(canvas, "mnist", ink_is_bright=True).image
            inputs = image.reshape(1, -1) / np.float32(255)
            network.predict_proba(inputs)
            trace(network, inputs[0], 24)  # the Draw tab's network page

gauss = rng.random((110, 110), dtype=np.float32)
work = rng.random((110, 80), dtype=np.float32)
row = rng.random((1, 784), dtype=np.float32)

def blas_products():
    for _ in range(120):
        gauss @ work
        row @ network.weights[0]

def others_cpu(job):
    job()  # buffers and caches ready
    time.sleep(0.5)  # the BLAS threads stop spinning from earlier work
    start = other_threads_cpu()
    job()
    return other_threads_cpu() - start

print(json.dumps({"drawing": others_cpu(drawings), "blas": others_cpu(blas_products)}))
"""


def test_one_drawing_is_converted_and_predicted_without_blas_threads():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    cpu = json.loads(done.stdout.strip().splitlines()[-1])
    if cpu["blas"] < 0.005:
        pytest.skip("this BLAS does small products on the calling thread anyway")
    # The same kind of products through BLAS keep its other thread busy; the
    # drawing's leave it idle (a little slack for the interpreter's own threads).
    assert cpu["drawing"] < 0.002, cpu
