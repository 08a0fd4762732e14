#!/usr/bin/env python3
"""Times the STS's neural translation decode (sts/neural_mt.cpp: encoder once, merged decoder
step by step with the past key/values, several rows in one batch) on ONNX Runtime's Python
binding, for a machine that has the CUDA provider but not the STS's build dependencies.

    ort_decode.py MODEL_DIR [--provider CUDAExecutionProvider] [--batches 1,4,16] [--tokens 24]

MODEL_DIR: a model directory as scripts/make-test-models or scripts/fetch-mt-model writes it.
Prints one row per batch size: latency per request (p50/p95) and translations per second.
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--provider", default="CUDAExecutionProvider")
    parser.add_argument("--batches", default="1,4,16")
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--source-tokens", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--precision", default="float", choices=("float", "int8"))
    args = parser.parse_args()
    import onnxruntime as ort

    if args.provider not in ort.get_available_providers():
        print(f"ort_decode: ONNX Runtime {ort.__version__} has no {args.provider} "
              f"(has: {', '.join(ort.get_available_providers())})", file=sys.stderr)
        return 3
    suffix = "_quantized" if args.precision == "int8" else ""
    onnx_dir = os.path.join(args.model_dir, "onnx")
    providers = [args.provider, "CPUExecutionProvider"]
    encoder = ort.InferenceSession(os.path.join(onnx_dir, f"encoder_model{suffix}.onnx"), providers=providers)
    decoder = ort.InferenceSession(os.path.join(onnx_dir, f"decoder_model_merged{suffix}.onnx"), providers=providers)
    with open(os.path.join(args.model_dir, "config.json")) as f:
        config = json.load(f)
    heads, d_model = config["decoder_attention_heads"], config["d_model"]
    past_names = [i.name for i in decoder.get_inputs() if i.name.startswith("past_key_values.")]
    rng = np.random.default_rng(1)

    def translate(batch):
        ids = rng.integers(4, 300, (1, args.source_tokens), dtype=np.int64)
        mask = np.ones_like(ids)
        hidden = encoder.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        hidden = np.repeat(hidden, batch, axis=0)
        cross_mask = np.ones((batch, args.source_tokens), dtype=np.int64)
        past = {n: np.zeros((batch, heads, 0, d_model // heads), dtype=np.float32) for n in past_names}
        tokens = np.full((batch, 1), config["decoder_start_token_id"], dtype=np.int64)
        for step in range(args.tokens):
            feed = {"encoder_attention_mask": cross_mask, "input_ids": tokens, "encoder_hidden_states": hidden,
                    "use_cache_branch": np.array([step > 0])}
            feed.update(past)
            outputs = decoder.run(None, feed)
            tokens = outputs[0][:, -1, :].argmax(axis=-1).reshape(batch, 1).astype(np.int64)
            names = [o.name for o in decoder.get_outputs()]
            past = {"past_key_values." + n[len("present."):]: v for n, v in zip(names[1:], outputs[1:])}

    translate(1)  # warm-up: kernels, allocations
    print(f"{os.path.basename(args.model_dir.rstrip('/'))} ({args.precision}, {args.provider}, d_model {d_model}, "
          f"{config['decoder_layers']} decoder layers, {config['vocab_size']} tokens), {args.tokens} output tokens")
    print(f"{'batch':>5} | {'p50 ms':>8} {'p95 ms':>8} | {'translations/s':>14}")
    for batch in [int(b) for b in args.batches.split(",")]:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            translate(batch)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p50, p95 = times[len(times) // 2], times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"{batch:>5} | {p50:>8.1f} {p95:>8.1f} | {batch * 1000 / p50:>14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
