#!/usr/bin/env python3
"""Writes a Pocket TTS model (Kyutai's 100M zero-shot voice-cloning TTS) with random weights, in
the files its community ONNX export publishes, so the STS's voice-cloning engine runs its whole
path (SentencePiece tokens, voice encoding from a reference clip, the stateful flow LM, the flow
steps, the streaming codec decoder) without real weights, which cannot be downloaded here. It
says nothing intelligible: random weights.

    make_pocket_tts.py --shape small OUT_DIR      # tests: tiny
    make_pocket_tts.py --shape real OUT_DIR       # benchmarks: the real model's widths

Files: tokenizer.model (SentencePiece), onnx/text_conditioner.onnx, onnx/mimi_encoder.onnx,
onnx/flow_lm_main.onnx, onnx/flow_lm_flow.onnx, onnx/mimi_decoder.onnx (float; the export's
*_int8.onnx variants are not written).

The ONNX contract (what the engine relies on; the export's names):
  text_conditioner  token_ids int64 [1, N] -> embeddings [1, N, D]
  mimi_encoder      audio [1, 1, samples at 24 kHz, a multiple of 1920] -> latents [1, frames, D]
  flow_lm_main      sequence [1, S, 32] (NaN rows: start of speech), text_embeddings [1, T, D],
                    state_0..K -> conditioning [1, D], eos_logit [1, 1], out_state_0..K
  flow_lm_flow      c [1, D], s [1, 1], t [1, 1], x [1, 32] -> flow_dir [1, 32]
  mimi_decoder      latent [1, F, 32], state_0..K -> audio_frame [1, 1, F x 1920], out_state_0..K
States start as zeros (dynamic dimensions 0); out_state_i feeds state_i on the next call.

Inside, at the real shape: the flow LM is 6 transformer layers (D 1024, 16 heads, FFN 4096) with
a growing key/value cache per layer and a position counter; the flow net 6 residual blocks of
width 512 modulated by the conditioning and the two times; the codec decoder a 2-layer
transformer (512, 8 heads, cached) and a convolutional upsampler 8x6x5x4x2 (512 -> 32 channels,
causal convolutions with their context carried as state); the encoder the mirror image. The
real Mimi's exact convolution stack is approximated at its widths and rates, not reproduced.

Test hook: --eos-after-frames N makes eos_logit cross the engine's threshold once N frames
have been fed (so a test can see the engine stop 3 frames later); by default it never does and
the engine's length cap ends each sentence.
"""
import argparse
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "mt-model-gen"))
from make_piper_voice import Graph  # noqa: E402
import make_mt_model  # noqa: E402
from make_mt_model import corpus_lines, train_spm  # noqa: E402

OPSET = 17
LATENT = 32
FRAME = 1920  # samples per frame at 24 kHz (12.5 frames/s)
UPSAMPLE = (8, 6, 5, 4, 2)  # product 1920

SHAPES = {
    "small": dict(d=64, layers=2, heads=4, ffn=128, flow_width=64, flow_blocks=2, codec=64, codec_layers=1,
                  codec_heads=4, channels=(64, 32, 16, 16, 8, 8), vocab=300),
    "real": dict(d=1024, layers=6, heads=16, ffn=4096, flow_width=512, flow_blocks=6, codec=512, codec_layers=2,
                 codec_heads=8, channels=(512, 256, 128, 64, 32, 32), vocab=4000),
}


def i64(values):
    return np.array(values, np.int64)


def f32(value):
    return np.array(value, np.float32)


def linear(g, x, d_in, d_out, bias=True):
    y = g.op("MatMul", [x, g.weight((d_in, d_out), d_in, "lin_w")])
    return g.op("Add", [y, g.const(np.zeros(d_out, np.float32), "lin_b")]) if bias else y


def layer_norm(g, x, d):
    return g.op("LayerNormalization", [x, g.const(np.ones(d, np.float32)), g.const(np.zeros(d, np.float32))],
                axis=-1, epsilon=1e-5)


def cached_attention(g, x, d, heads, past_k, past_v):
    """x [1, S, d]; past_k/past_v [1, heads, P, dh] -> (out [1, S, d], new_k, new_v), causal over the cache."""
    dh = d // heads

    def split(t):
        t = g.op("Reshape", [t, g.const(i64([1, -1, heads, dh]))])
        return g.op("Transpose", [t], perm=[0, 2, 1, 3])

    q = split(linear(g, x, d, d, bias=False))
    k = g.op("Concat", [past_k, split(linear(g, x, d, d, bias=False))], axis=2)
    v = g.op("Concat", [past_v, split(linear(g, x, d, d, bias=False))], axis=2)
    scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])]), g.const(f32(1 / math.sqrt(dh)))])
    # Causal: query i (of S new positions) sees cache positions <= P + i.
    s_len = g.op("Gather", [g.op("Shape", [x]), g.const(i64(1))])
    total = g.op("Gather", [g.op("Shape", [k]), g.const(i64(2))])
    qi = g.op("Range", [g.op("Sub", [total, s_len]), total, g.const(i64(1))])
    kj = g.op("Range", [g.const(i64(0)), total, g.const(i64(1))])
    allowed = g.op("LessOrEqual", [g.op("Unsqueeze", [kj, g.const(i64([0]))]), g.op("Unsqueeze", [qi, g.const(i64([1]))])])
    scores = g.op("Where", [allowed, scores, g.const(f32(-1e9))])
    out = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    out = g.op("Reshape", [g.op("Transpose", [out], perm=[0, 2, 1, 3]), g.const(i64([1, -1, d]))])
    return linear(g, out, d, d, bias=False), k, v


def transformer(g, x, d, heads, ffn, layers, state_in, state_out):
    """Pre-norm layers over a key/value cache carried in states (appended to state_in/_out)."""
    dh = d // heads
    for _ in range(layers):
        names = []
        for _kv in range(2):
            name = f"state_{len(state_in)}"
            state_in.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, heads, "past", dh]))
            names.append(name)
        att, k, v = cached_attention(g, layer_norm(g, x, d), d, heads, names[0], names[1])
        x = g.op("Add", [x, att])
        for t in (k, v):
            name = f"out_state_{len(state_out)}"
            g.nodes.append(helper.make_node("Identity", [t], [name]))
            state_out.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, heads, "total", dh]))
        h = g.op("Relu", [linear(g, layer_norm(g, x, d), d, ffn)])
        x = g.op("Add", [x, linear(g, h, ffn, d)])
    return layer_norm(g, x, d)


def save(g, inputs, outputs, path):
    graph = helper.make_graph(g.nodes, os.path.basename(path), inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="livedub-test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def text_conditioner(s, rng, path):
    g = Graph(rng)
    table = g.const((rng.standard_normal((s["vocab"], s["d"]), dtype=np.float32) * 0.1).astype(np.float32), "emb")
    g.nodes.append(helper.make_node("Gather", [table, "token_ids"], ["embeddings"]))
    save(g, [helper.make_tensor_value_info("token_ids", TensorProto.INT64, [1, "seq_len"])],
         [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, [1, "seq_len", s["d"]])], path)


def flow_lm_main(s, rng, path, eos_after):
    g = Graph(rng)
    d = s["d"]
    state_in, state_out = [], []
    # NaN rows of the sequence are the start-of-speech marker: a learned vector replaces them.
    seq = "sequence"
    is_nan = g.op("IsNaN", [seq])
    clean = g.op("Where", [is_nan, g.const(f32(0.0)), seq])
    x_seq = linear(g, clean, LATENT, d)
    bos = g.const((rng.standard_normal((d,), dtype=np.float32) * 0.1).astype(np.float32), "bos")
    # a row is the marker when its first value is NaN (a reduction would misbehave on no rows)
    row_nan = g.op("Slice", [is_nan, g.const(i64([0])), g.const(i64([1])), g.const(i64([2]))])
    x_seq = g.op("Where", [row_nan, bos, x_seq])
    x = g.op("Concat", ["text_embeddings", x_seq], axis=1)
    # Frames fed so far (the export's step counter): what --eos-after-frames keys on.
    counter = f"state_{len(state_in)}"
    state_in.append(helper.make_tensor_value_info(counter, TensorProto.INT64, [1]))
    fed = g.op("Add", [counter, g.op("Slice", [g.op("Shape", [seq]), g.const(i64([1])), g.const(i64([2]))])])
    g.nodes.append(helper.make_node("Identity", [fed], [f"out_state_{len(state_out)}"]))
    state_out.append(helper.make_tensor_value_info(f"out_state_{len(state_out)}", TensorProto.INT64, [1]))
    h = transformer(g, x, d, s["heads"], s["ffn"], s["layers"], state_in, state_out)
    last = g.op("Gather", [h, g.const(i64(-1))], axis=1)  # [1, d]
    g.nodes.append(helper.make_node("Identity", [last], ["conditioning"]))
    logit = g.op("Mul", [linear(g, last, d, 1), g.const(f32(0.01))])
    if eos_after is None:
        logit = g.op("Add", [logit, g.const(f32(-20.0))])
    else:
        ramp = g.op("Mul", [g.op("Cast", [g.op("Sub", [fed, g.const(i64([eos_after]))])], to=TensorProto.FLOAT),
                            g.const(f32(10.0))])
        logit = g.op("Add", [logit, g.op("Add", [g.op("Unsqueeze", [ramp, g.const(i64([0]))]), g.const(f32(-4.5))])])
    g.nodes.append(helper.make_node("Identity", [logit], ["eos_logit"]))
    inputs = [helper.make_tensor_value_info("sequence", TensorProto.FLOAT, [1, "sequence_len", LATENT]),
              helper.make_tensor_value_info("text_embeddings", TensorProto.FLOAT, [1, "text_len", d])] + state_in
    outputs = [helper.make_tensor_value_info("conditioning", TensorProto.FLOAT, [1, d]),
               helper.make_tensor_value_info("eos_logit", TensorProto.FLOAT, [1, 1])] + state_out
    save(g, inputs, outputs, path)


def time_embedding(g, t, width):
    freqs = g.const(np.exp(-math.log(10000.0) * np.arange(width // 2, dtype=np.float32) / (width // 2))[None, :], "freq")
    arg = g.op("MatMul", [t, freqs])
    return g.op("Concat", [g.op("Cos", [arg]), g.op("Sin", [arg])], axis=-1)


def flow_lm_flow(s, rng, path):
    g = Graph(rng)
    w = s["flow_width"]
    cond = g.op("Add", [linear(g, "c", s["d"], w),
                        g.op("Add", [linear(g, time_embedding(g, "s", w), w, w), linear(g, time_embedding(g, "t", w), w, w)])])
    cond = g.op("Mul", [cond, g.op("Sigmoid", [cond])])
    x = linear(g, "x", LATENT, w)
    for _ in range(s["flow_blocks"]):
        mod = linear(g, cond, w, 3 * w)
        shift, scale, gate = (g.op("Slice", [mod, g.const(i64([a])), g.const(i64([a + w])), g.const(i64([1]))])
                              for a in (0, w, 2 * w))
        h = g.op("Add", [g.op("Mul", [layer_norm(g, x, w), g.op("Add", [scale, g.const(f32(1.0))])]), shift])
        h = linear(g, h, w, w)
        h = linear(g, g.op("Mul", [h, g.op("Sigmoid", [h])]), w, w)
        x = g.op("Add", [x, g.op("Mul", [gate, h])])
    out = g.op("Mul", [linear(g, layer_norm(g, x, w), w, LATENT), g.const(f32(0.1))])
    g.nodes.append(helper.make_node("Identity", [out], ["flow_dir"]))
    inputs = [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, s["d"]]),
              helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 1]),
              helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 1]),
              helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, LATENT])]
    save(g, inputs, [helper.make_tensor_value_info("flow_dir", TensorProto.FLOAT, [1, LATENT])], path)


def causal_conv(g, x, c_in, c_out, k, state_in, state_out):
    """A streaming causal convolution: the last k-1 input samples of the previous call are its state."""
    name = f"state_{len(state_in)}"
    state_in.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, c_in, "context"]))
    # A first call's state is empty: left-pad with zeros up to k-1 samples of context.
    have = g.op("Slice", [g.op("Shape", [name]), g.const(i64([2])), g.const(i64([3]))])
    pad = g.op("Sub", [g.const(i64([k - 1])), have])
    zeros = g.op("ConstantOfShape", [g.op("Concat", [g.const(i64([1, c_in])), pad], axis=0)],
                 value=numpy_helper.from_array(f32([0.0])))
    joined = g.op("Concat", [zeros, name, x], axis=2)
    tail = g.op("Slice", [joined, g.const(i64([-(k - 1)])), g.const(i64([2 ** 62])), g.const(i64([2]))])
    out_name = f"out_state_{len(state_out)}"
    g.nodes.append(helper.make_node("Identity", [tail], [out_name]))
    state_out.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, c_in, k - 1]))
    w = g.weight((c_out, c_in, k), c_in * k, "conv_w")
    return g.op("Conv", [joined, w, g.const(np.zeros(c_out, np.float32), "conv_b")], kernel_shape=[k])


def mimi_decoder(s, rng, path):
    g = Graph(rng)
    state_in, state_out = [], []
    c = s["codec"]
    x = linear(g, "latent", LATENT, c)  # [1, F, c]
    x = transformer(g, x, c, s["codec_heads"], 4 * c, s["codec_layers"], state_in, state_out)
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [1, c, F]
    chans = s["channels"]
    x = causal_conv(g, x, c, chans[0], 7, state_in, state_out)
    for i, rate in enumerate(UPSAMPLE):
        x = g.op("Elu", [x])
        # kernel = stride: no overlap between calls, so nothing to carry
        w = g.weight((chans[i], chans[i + 1], rate), chans[i], "up_w")
        x = g.op("ConvTranspose", [x, w, g.const(np.zeros(chans[i + 1], np.float32), "up_b")],
                 kernel_shape=[rate], strides=[rate])
        res = causal_conv(g, g.op("Elu", [x]), chans[i + 1], chans[i + 1], 3, state_in, state_out)
        x = g.op("Add", [x, res])
    x = causal_conv(g, g.op("Elu", [x]), chans[-1], 1, 7, state_in, state_out)
    audio = g.op("Tanh", [x])
    g.nodes.append(helper.make_node("Identity", [audio], ["audio_frame"]))
    inputs = [helper.make_tensor_value_info("latent", TensorProto.FLOAT, [1, "seq_len", LATENT])] + state_in
    outputs = [helper.make_tensor_value_info("audio_frame", TensorProto.FLOAT, [1, 1, "samples"])] + state_out
    save(g, inputs, outputs, path)


def mimi_encoder(s, rng, path):
    g = Graph(rng)
    c = s["codec"]
    x = g.op("Reshape", ["audio", g.const(i64([1, 1, -1]))])
    chans = list(reversed(s["channels"]))
    x = g.op("Conv", [x, g.weight((chans[0], 1, 7), 7, "conv_w"), g.const(np.zeros(chans[0], np.float32))],
             kernel_shape=[7], pads=[6, 0])
    for i, rate in enumerate(reversed(UPSAMPLE)):
        x = g.op("Elu", [x])
        x = g.op("Conv", [x, g.weight((chans[i + 1], chans[i], rate), chans[i] * rate, "down_w"),
                          g.const(np.zeros(chans[i + 1], np.float32))], kernel_shape=[rate], strides=[rate])
    x = g.op("Conv", [x, g.weight((c, chans[-1], 1), chans[-1], "conv_w"), g.const(np.zeros(c, np.float32))],
             kernel_shape=[1])
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [1, frames, c]
    empty = np.zeros((1, s["codec_heads"], 0, c // s["codec_heads"]), np.float32)
    for _ in range(s["codec_layers"]):  # no cache: the whole clip at once
        att, _, _ = cached_attention(g, layer_norm(g, x, c), c, s["codec_heads"], g.const(empty), g.const(empty))
        x = g.op("Add", [x, att])
    latents = linear(g, layer_norm(g, x, c), c, s["d"], bias=False)  # the speaker projection
    g.nodes.append(helper.make_node("Identity", [latents], ["latents"]))
    save(g, [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, 1, "audio_len"])],
         [helper.make_tensor_value_info("latents", TensorProto.FLOAT, [1, "frames", s["d"]])], path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--eos-after-frames", type=int, default=None)
    parser.add_argument("--no-tokenizer", action="store_true",
                        help="write the ONNX files alone (speed benchmarks on machines without spm_train)")
    parser.add_argument("out_dir")
    args = parser.parse_args()
    make_mt_model.ALLOW_NO_TOKENIZER = args.no_tokenizer
    s = SHAPES[args.shape]
    rng = np.random.default_rng(args.seed)
    onnx_dir = os.path.join(args.out_dir, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    pieces = train_spm(corpus_lines(), os.path.join(args.out_dir, "tokenizer"), s["vocab"], "unigram")
    s = dict(s, vocab=max(len(pieces), 1))
    text_conditioner(s, rng, os.path.join(onnx_dir, "text_conditioner.onnx"))
    mimi_encoder(s, rng, os.path.join(onnx_dir, "mimi_encoder.onnx"))
    flow_lm_main(s, rng, os.path.join(onnx_dir, "flow_lm_main.onnx"), args.eos_after_frames)
    flow_lm_flow(s, rng, os.path.join(onnx_dir, "flow_lm_flow.onnx"))
    mimi_decoder(s, rng, os.path.join(onnx_dir, "mimi_decoder.onnx"))
    print(f"make_pocket_tts: wrote {args.out_dir} ({args.shape})")


if __name__ == "__main__":
    main()
