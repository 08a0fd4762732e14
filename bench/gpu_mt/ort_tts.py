#!/usr/bin/env python3
"""Times Piper voices (sts/piper_tts.cpp's ONNX call: one sentence per run) on ONNX Runtime's
Python binding, for a machine with the CUDA provider but without the STS's build dependencies.

    ort_tts.py VOICE.onnx [--provider CUDAExecutionProvider] [--concurrency 1,4,16] [--symbols 110]

--symbols: phoneme ids per sentence (110: a fragment's ~10-word sentence, pads included).
Prints one row per concurrency: ms per sentence (p50/p95), seconds of audio per sentence, and
sentences per second.
"""
import argparse
import json
import sys

import numpy as np

from concurrency import percentile, timed_concurrently


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("voice")
    parser.add_argument("--provider", default="CUDAExecutionProvider")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--symbols", type=int, default=110)
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    import onnxruntime as ort

    if args.provider not in ort.get_available_providers():
        print(f"ort_tts: ONNX Runtime {ort.__version__} has no {args.provider}", file=sys.stderr)
        return 3
    with open(args.voice + ".json", encoding="utf-8") as f:
        config = json.load(f)
    rate = config["audio"]["sample_rate"]
    session = ort.InferenceSession(args.voice, providers=[args.provider, "CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    rng = np.random.default_rng(1)
    ids = rng.integers(3, len(config["phoneme_id_map"]), size=(1, args.symbols), dtype=np.int64)
    feed = {"input": ids, "input_lengths": np.array([args.symbols], np.int64),
            "scales": np.array([0.667, 1.0, 0.8], np.float32)}
    if "sid" in names:
        feed["sid"] = np.array([0], np.int64)
    audio = session.run(None, feed)[0]  # warm-up (CUDA kernels, allocations)
    seconds = audio.size / rate
    print(f"{args.voice.rsplit('/', 1)[-1]}: {session.get_providers()[0]}, {args.symbols} symbols -> {seconds:.2f} s of audio")
    print("at once | p50 ms  p95 ms | sentences/s")
    for c in [int(x) for x in args.concurrency.split(",")]:
        times, wall = timed_concurrently(lambda _: session.run(None, feed), c, args.repeats)
        print(f"{c:7d} | {percentile(times, 0.5):6.1f}  {percentile(times, 0.95):6.1f} | {len(times) / wall:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
