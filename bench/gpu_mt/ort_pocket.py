#!/usr/bin/env python3
"""Times the voice-cloning engine (sts/pocket_tts.cpp's loop over the five Pocket TTS graphs) on
ONNX Runtime's Python binding, for a machine with the CUDA provider but without the STS's build
dependencies.

    ort_pocket.py DIR [--provider CUDAExecutionProvider] [--concurrency 1,4,16] [--tokens 16]
                      [--frames 50] [--voice-frames 89]

DIR: a Pocket TTS export (onnx/*.onnx; tools/tts-model-gen/make_pocket_tts.py --shape real writes
one with random weights). Each sentence is what the STS runs for a fragment: the text conditioner
on --tokens ids, the voice (--voice-frames conditioning frames: a 7 s reference) and the text
into the flow LM's cache, then --frames steps of flow LM + one flow-matching step (50 frames:
4 s of speech, a 10-word sentence) and the codec decoder in chunks of 15 frames. Random weights
never fire end-of-speech, so the frame count is fixed here rather than left to the model.
Prints the reference clip's encoding time and one row per concurrency: ms per sentence
(p50/p95), real-time factor, sentences per second.
"""
import argparse
import os
import sys
import time

import numpy as np

from concurrency import percentile, timed_concurrently

DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
          "tensor(bool)": np.bool_, "tensor(float16)": np.float16}
FRAME_SAMPLES = 1920  # 80 ms at 24 kHz
DECODER_CHUNK = 15


class Graph:
    """A session whose state_N inputs start as zeros (dynamic dimensions empty) and are fed back
    from its out_state_N outputs, as the STS's StatefulGraph does."""

    def __init__(self, path, providers):
        import onnxruntime as ort

        options = ort.SessionOptions()
        self.session = ort.InferenceSession(path, options, providers=providers)
        self.inputs = self.session.get_inputs()
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.states = [i for i in self.inputs if i.name.startswith("state_")]

    def initial_states(self):
        return {i.name: np.zeros([d if isinstance(d, int) and d > 0 else 0 for d in i.shape], DTYPES[i.type])
                for i in self.states}

    def run(self, feed, states):
        outputs = dict(zip(self.output_names, self.session.run(None, {**feed, **states})))
        for i in self.states:
            states[i.name] = outputs["out_" + i.name]
        return outputs


def sentence(graphs, voice, tokens, frames, rng):
    conditioner, main, flow, decoder = graphs
    embeddings = conditioner.run({"token_ids": tokens}, {})["embeddings"]
    dim = embeddings.shape[-1]
    latent_width = main.session.get_inputs()[[i.name for i in main.inputs].index("sequence")].shape[-1]
    states = main.initial_states()
    no_frames = np.zeros((1, 0, latent_width), np.float32)
    no_text = np.zeros((1, 0, dim), np.float32)
    main.run({"sequence": no_frames, "text_embeddings": voice}, states)
    main.run({"sequence": no_frames, "text_embeddings": embeddings}, states)
    current = np.full((1, 1, latent_width), np.nan, np.float32)
    latents = []
    s, t = np.zeros((1, 1), np.float32), np.ones((1, 1), np.float32)
    for _ in range(frames):
        out = main.run({"sequence": current, "text_embeddings": no_text}, states)
        x = rng.normal(0.0, np.sqrt(0.7), (1, latent_width)).astype(np.float32)
        x = x + flow.run({"c": out["conditioning"], "s": s, "t": t, "x": x}, {})["flow_dir"]
        latents.append(x)
        current = x.reshape(1, 1, latent_width)
    decoder_states = decoder.initial_states()
    samples = 0
    for first in range(0, frames, DECODER_CHUNK):
        chunk = np.stack(latents[first:first + DECODER_CHUNK], axis=1).reshape(1, -1, latent_width)
        samples += decoder.run({"latent": chunk}, decoder_states)["audio_frame"].size
    return samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--provider", default="CUDAExecutionProvider")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--voice-frames", type=int, default=89)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    import onnxruntime as ort

    if args.provider not in ort.get_available_providers():
        print(f"ort_pocket: ONNX Runtime {ort.__version__} has no {args.provider}", file=sys.stderr)
        return 3
    providers = [args.provider, "CPUExecutionProvider"]
    path = lambda name: os.path.join(args.dir, "onnx", name + ".onnx")  # noqa: E731
    encoder = Graph(path("mimi_encoder"), providers)
    graphs = tuple(Graph(path(n), providers) for n in ("text_conditioner", "flow_lm_main", "flow_lm_flow", "mimi_decoder"))
    rng = np.random.default_rng(1)
    clip = (rng.standard_normal((1, 1, args.voice_frames * FRAME_SAMPLES)) * 0.1).astype(np.float32)
    encoder.run({"audio": clip}, {})  # warm-up
    start = time.perf_counter()
    voice = encoder.run({"audio": clip}, {})["latents"]
    encode_ms = (time.perf_counter() - start) * 1000
    tokens = rng.integers(1, 100, size=(1, args.tokens), dtype=np.int64)
    samples = sentence(graphs, voice, tokens, args.frames, rng)  # warm-up (kernels, allocations)
    seconds = samples / 24000
    print(f"pocket-tts {os.path.basename(os.path.normpath(args.dir))}: {graphs[1].session.get_providers()[0]}, "
          f"reference {args.voice_frames * FRAME_SAMPLES / 24000:.1f} s -> {voice.shape[1]} frames in {encode_ms:.0f} ms; "
          f"{args.tokens} tokens -> {args.frames} frames = {seconds:.2f} s of audio")
    print("at once | p50 ms  p95 ms | RTF | sentences/s")
    for c in [int(x) for x in args.concurrency.split(",")]:
        generators = [np.random.default_rng(k) for k in range(c)]
        times, wall = timed_concurrently(lambda k: sentence(graphs, voice, tokens, args.frames, generators[k]), c, args.repeats)
        p50 = percentile(times, 0.5)
        print(f"{c:7d} | {p50:6.1f}  {percentile(times, 0.95):6.1f} | {p50 / 1000 / seconds:.3f} | {len(times) / wall:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
