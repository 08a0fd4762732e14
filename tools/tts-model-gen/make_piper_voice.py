#!/usr/bin/env python3
"""Writes a Piper voice with random weights, in the exact files Piper publishes (NAME.onnx +
NAME.onnx.json, rhasspy/piper-voices), so the STS's neural TTS runs its whole path (espeak-ng
phonemes, the voice's phoneme map, the ONNX contract, audio out) without real weights, which
cannot be downloaded here. It says nothing intelligible: random weights.

    make_piper_voice.py --language es_ES --espeak-voice es --quality small OUT_DIR/es_ES-test-small.onnx
    make_piper_voice.py --language de_DE --espeak-voice de --quality medium OUT_DIR/de_DE-test-medium.onnx

The ONNX contract is Piper's export: inputs input (int64 [1, phonemes]), input_lengths (int64
[1]), scales (float [3]: noise, length, noise_w), sid (int64 [1], multi-speaker voices only);
output "output" (float [1, 1, 1, samples]). Inside, VITS at Piper's shapes:
  text encoder  symbol embedding, 6 transformer layers (hidden 192, 2 heads, conv FFN 768 k3)
  durations     a convolutional predictor (Piper's stochastic predictor's spline flows cost as
                little at these lengths and are not reproduced), exp, x length scale, ceil
  expansion     each phoneme's prior repeated over its frames, sampled with noise_scale
  flow          4 residual coupling layers (WaveNet, 4 layers, kernel 5), reversed
  decoder       HiFi-GAN: x_low/low/medium: upsampling 8,8,4 from 256 channels, ResBlock2
                (kernels 3,5,7); high: 8,8,2,2 from 512 channels, ResBlock1 (kernels 3,7,11)
Qualities: small (tests: tiny), x_low (16 kHz, hidden 96), low (16 kHz), medium (22.05 kHz),
high (22.05 kHz). Needs Debian's python3-onnx and python3-numpy.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17

# Piper's espeak-ng symbol set: pad, start, end, space and punctuation, then the letters and IPA
# symbols espeak-ng emits (single codepoints after NFD), then combining marks.
SYMBOLS = (["_", "^", "$", " ", "!", "'", "(", ")", ",", "-", ".", ":", ";", "?"]
           + list("abcdefghijklmnopqrstuvwxyz")
           + list("æçðøħŋœǀǁǂǃɐɑɒɓɔɕɖɗɘəɚɛɜɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ˞βθχᵻⱱ")
           + ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
           + ["\u0327", "\u0303", "\u031a", "\u0329", "\u032a", "\u032f", "\u033a", "\u033b", "\u0361", "\u0325",
              "\u0306", "\u0308", "\u030a", "\u0330", "\u0324", "\u0318", "\u0319", "\u031c", "\u031d", "\u031e",
              "\u031f", "\u0320", "\u0339", "\u033c", "\u033d", "\u0300", "\u0301", "\u0302", "\u0304", "\u030b",
              "\u030c", "\u030f", "\u02b0", "\u02b7", "\u02e0", "\u02e4", "\u207f", "\u02de", "\u2191", "\u2193",
              "\u2197", "\u2198", "\u02bc", "\u02d0", "\u02d1", "\"", "\u2016", "|", "\u203f"]
)

QUALITIES = {
    # hidden, filter, layers, heads, up_initial, up_rates, up_kernels, resblock, rb_kernels, rb_dilations, rate
    "small": dict(hidden=16, filter=32, layers=1, heads=2, flows=1, wn_layers=1, up_initial=16, up_rates=(8, 8, 4),
                  up_kernels=(16, 16, 8), resblock="2", rb_kernels=(3,), rb_dilations=((1, 2),), rate=16000),
    "x_low": dict(hidden=96, filter=384, layers=6, heads=2, flows=4, wn_layers=4, up_initial=256, up_rates=(8, 8, 4),
                  up_kernels=(16, 16, 8), resblock="2", rb_kernels=(3, 5, 7), rb_dilations=((1, 2), (2, 6), (3, 12)),
                  rate=16000),
    "low": dict(hidden=192, filter=768, layers=6, heads=2, flows=4, wn_layers=4, up_initial=256, up_rates=(8, 8, 4),
                up_kernels=(16, 16, 8), resblock="2", rb_kernels=(3, 5, 7), rb_dilations=((1, 2), (2, 6), (3, 12)),
                rate=16000),
    "medium": dict(hidden=192, filter=768, layers=6, heads=2, flows=4, wn_layers=4, up_initial=256, up_rates=(8, 8, 4),
                   up_kernels=(16, 16, 8), resblock="2", rb_kernels=(3, 5, 7), rb_dilations=((1, 2), (2, 6), (3, 12)),
                   rate=22050),
    "high": dict(hidden=192, filter=768, layers=6, heads=2, flows=4, wn_layers=4, up_initial=512, up_rates=(8, 8, 2, 2),
                 up_kernels=(16, 16, 4, 4), resblock="1", rb_kernels=(3, 7, 11),
                 rb_dilations=((1, 3, 5), (1, 3, 5), (1, 3, 5)), rate=22050),
}


class Graph:
    def __init__(self, rng):
        self.nodes, self.inits, self.rng, self.n = [], [], rng, 0

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.name(hint or op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def const(self, array, hint="const"):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, shape, fan_in, hint="w"):
        w = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(1.0 / math.sqrt(max(1, fan_in)))
        return self.const(w.astype(np.float32), hint)

    def conv(self, x, c_in, c_out, k, dilation=1, bias=True):
        w = self.weight((c_out, c_in, k), c_in * k, "conv_w")
        inputs = [x, w] + ([self.const(np.zeros(c_out, np.float32), "conv_b")] if bias else [])
        pad = dilation * (k - 1) // 2
        return self.op("Conv", inputs, "conv", dilations=[dilation], pads=[pad, pad], kernel_shape=[k])

    def conv_transpose(self, x, c_in, c_out, k, stride):
        w = self.weight((c_in, c_out, k), c_in * k // stride, "up_w")
        pad = (k - stride) // 2
        return self.op("ConvTranspose", [x, w, self.const(np.zeros(c_out, np.float32), "up_b")], "up",
                       kernel_shape=[k], strides=[stride], pads=[pad, pad])

    def lrelu(self, x):
        return self.op("LeakyRelu", [x], alpha=0.1)


def text_encoder(g, ids, mask, q, num_symbols):
    h = q["hidden"]
    emb = g.const((g.rng.standard_normal((num_symbols, h), dtype=np.float32) * h ** -0.5).astype(np.float32), "emb")
    x = g.op("Gather", [emb, ids])  # [1, N, H]
    x = g.op("Mul", [x, g.const(np.array(math.sqrt(h), np.float32))])
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [1, H, N]
    x = g.op("Mul", [x, mask])
    heads, dh = q["heads"], h // q["heads"]
    for _ in range(q["layers"]):
        # attention over the phonemes (1x1 convolutions, as VITS projects them)
        qq, kk, vv = (g.conv(x, h, h, 1) for _ in range(3))

        def split(t):
            t = g.op("Reshape", [t, g.const(np.array([1, heads, dh, -1], np.int64))])
            return g.op("Transpose", [t], perm=[0, 1, 3, 2])  # [1, heads, N, dh]

        scores = g.op("MatMul", [split(qq), g.op("Transpose", [split(kk)], perm=[0, 1, 3, 2])])
        scores = g.op("Mul", [scores, g.const(np.array(1.0 / math.sqrt(dh), np.float32))])
        att = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), split(vv)])
        att = g.op("Reshape", [g.op("Transpose", [att], perm=[0, 1, 3, 2]), g.const(np.array([1, h, -1], np.int64))])
        x = norm(g, g.op("Add", [x, g.conv(att, h, h, 1)]), h)
        y = g.op("Relu", [g.conv(g.op("Mul", [x, mask]), h, q["filter"], 3)])
        y = g.conv(g.op("Mul", [y, mask]), q["filter"], h, 3)
        x = norm(g, g.op("Add", [x, y]), h)
    x = g.op("Mul", [x, mask])
    stats = g.op("Mul", [g.conv(x, h, 2 * h, 1), mask])
    m, logs = (g.op("Slice", [stats, g.const(np.array([a], np.int64)), g.const(np.array([b], np.int64)),
                              g.const(np.array([1], np.int64))]) for a, b in ((0, h), (h, 2 * h)))
    return x, m, logs


def norm(g, x, channels):
    t = g.op("Transpose", [x], perm=[0, 2, 1])
    t = g.op("LayerNormalization", [t, g.const(np.ones(channels, np.float32)), g.const(np.zeros(channels, np.float32))],
             axis=-1, epsilon=1e-5)
    return g.op("Transpose", [t], perm=[0, 2, 1])


def durations(g, x, mask, q, length_scale):
    """Frames per symbol, [N] int64."""
    h = q["hidden"]
    y = x
    for dilation in (1, 3, 9):  # DDSConv-like stack
        y = g.op("Add", [y, g.op("Relu", [g.conv(y, h, h, 3, dilation)])])
    logw = g.conv(y, h, 1, 1)
    # Random weights predict anything: keep each symbol (phonemes and the pads between them) at
    # ~25 ms on average, as trained voices give (pads and stress marks take almost none): the
    # sentences last about as long as Pico speaks them, so the decoder runs at a
    # realistic length.
    center = 0.017 * q["rate"] / 256
    logw = g.op("Add", [g.op("Mul", [g.op("Tanh", [logw]), g.const(np.array(0.5, np.float32))]),
                        g.const(np.array(math.log(center), np.float32))])
    w = g.op("Mul", [g.op("Mul", [g.op("Exp", [logw]), mask]), length_scale])
    d = g.op("Cast", [g.op("Ceil", [w])], to=TensorProto.INT64)  # [1, 1, N]
    return g.op("Reshape", [d, g.const(np.array([-1], np.int64))])  # [N]


def expand(g, t, d):
    """t [1, C, N] repeated d[n] times along the last axis: [1, C, sum(d)]."""
    ends = g.op("CumSum", [d, g.const(np.array(0, np.int64))])
    total = g.op("ReduceSum", [d], keepdims=0)
    frames = g.op("Range", [g.const(np.array(0, np.int64)), total, g.const(np.array(1, np.int64))])
    ge = g.op("GreaterOrEqual", [g.op("Unsqueeze", [frames, g.const(np.array([1], np.int64))]),
                                 g.op("Unsqueeze", [ends, g.const(np.array([0], np.int64))])])
    index = g.op("ReduceSum", [g.op("Cast", [ge], to=TensorProto.INT64), g.const(np.array([1], np.int64))], keepdims=0)
    return g.op("Gather", [t, index], axis=2)


def flow_reverse(g, z, q):
    h, half = q["hidden"], q["hidden"] // 2
    for _ in range(q["flows"]):
        z = g.op("Slice", [z, g.const(np.array([h - 1], np.int64)), g.const(np.array([-h - 1], np.int64)),
                           g.const(np.array([1], np.int64)), g.const(np.array([-1], np.int64))])  # Flip
        x0 = g.op("Slice", [z, g.const(np.array([0], np.int64)), g.const(np.array([half], np.int64)), g.const(np.array([1], np.int64))])
        x1 = g.op("Slice", [z, g.const(np.array([half], np.int64)), g.const(np.array([h], np.int64)), g.const(np.array([1], np.int64))])
        w = g.conv(x0, half, h, 1)
        skip = None
        for i in range(q["wn_layers"]):  # WaveNet: gated dilated convolutions
            a = g.conv(w, h, 2 * h, 5)
            t = g.op("Tanh", [g.op("Slice", [a, g.const(np.array([0], np.int64)), g.const(np.array([h], np.int64)), g.const(np.array([1], np.int64))])])
            s = g.op("Sigmoid", [g.op("Slice", [a, g.const(np.array([h], np.int64)), g.const(np.array([2 * h], np.int64)), g.const(np.array([1], np.int64))])])
            acts = g.op("Mul", [t, s])
            last = i == q["wn_layers"] - 1
            rs = g.conv(acts, h, h if last else 2 * h, 1)
            if last:
                res_skip = rs
            else:
                w = g.op("Add", [w, g.op("Slice", [rs, g.const(np.array([0], np.int64)), g.const(np.array([h], np.int64)), g.const(np.array([1], np.int64))])])
                res_skip = g.op("Slice", [rs, g.const(np.array([h], np.int64)), g.const(np.array([2 * h], np.int64)), g.const(np.array([1], np.int64))])
            skip = res_skip if skip is None else g.op("Add", [skip, res_skip])
        m = g.conv(skip, h, half, 1)
        x1 = g.op("Sub", [x1, m])
        z = g.op("Concat", [x0, x1], axis=1)
    return z


def decoder(g, z, q, speaker=None):
    c = q["up_initial"]
    x = g.conv(z, q["hidden"], c, 7)
    if speaker is not None:
        x = g.op("Add", [x, speaker])
    for rate, k in zip(q["up_rates"], q["up_kernels"]):
        x = g.conv_transpose(g.lrelu(x), c, c // 2, k, rate)
        c //= 2
        total = None
        for rk, dilations in zip(q["rb_kernels"], q["rb_dilations"]):
            y = x
            for dil in dilations:
                t = g.conv(g.lrelu(y), c, c, rk, dil)
                if q["resblock"] == "1":
                    t = g.conv(g.lrelu(t), c, c, rk, 1)
                y = g.op("Add", [y, t])
            total = y if total is None else g.op("Add", [total, y])
        x = g.op("Mul", [total, g.const(np.array(1.0 / len(q["rb_kernels"]), np.float32))])
    x = g.conv(g.lrelu(x), c, 1, 7, bias=False)
    return g.op("Tanh", [x])


def build(q, num_symbols, speakers, seed):
    g = Graph(np.random.default_rng(seed))
    ids = "input"
    # Every phoneme position below input_lengths counts; the rest (none in a batch of one) is masked.
    n = g.op("Shape", [ids])
    n = g.op("Gather", [n, g.const(np.array(1, np.int64))])
    positions = g.op("Range", [g.const(np.array(0, np.int64)), n, g.const(np.array(1, np.int64))])
    mask = g.op("Cast", [g.op("Less", [positions, "input_lengths"])], to=TensorProto.FLOAT)
    mask = g.op("Reshape", [mask, g.const(np.array([1, 1, -1], np.int64))])
    noise_scale, length_scale, noise_w = (
        g.op("Slice", ["scales", g.const(np.array([i], np.int64)), g.const(np.array([i + 1], np.int64))]) for i in range(3))
    x, m, logs = text_encoder(g, ids, mask, q, num_symbols)
    # noise_w scales the duration predictor's noise in VITS: here it perturbs its input.
    x = g.op("Add", [x, g.op("Mul", [g.op("RandomNormalLike", [x], dtype=TensorProto.FLOAT), noise_w])])
    d = durations(g, x, mask, q, length_scale)
    m, logs = expand(g, m, d), expand(g, logs, d)
    noise = g.op("Mul", [g.op("RandomNormalLike", [m], dtype=TensorProto.FLOAT), noise_scale])
    z = g.op("Add", [m, g.op("Mul", [noise, g.op("Exp", [g.op("Mul", [logs, g.const(np.array(0.1, np.float32))])])])])
    z = flow_reverse(g, z, q)
    speaker = None
    inputs = [helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
              helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
              helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3])]
    if speakers > 1:
        table = g.const((g.rng.standard_normal((speakers, q["up_initial"]), dtype=np.float32) * 0.1).astype(np.float32), "speakers")
        speaker = g.op("Unsqueeze", [g.op("Gather", [table, "sid"]), g.const(np.array([2], np.int64))])
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
    audio = decoder(g, z, q, speaker)
    out = g.op("Unsqueeze", [audio, g.const(np.array([1], np.int64))])  # [1, 1, 1, samples]
    g.nodes.append(helper.make_node("Identity", [out], ["output"]))
    graph = helper.make_graph(g.nodes, "piper_vits", inputs,
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 1, "samples"])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="livedub-piper-voice-gen")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def config(language, espeak_voice, quality, q, speakers, name):
    symbols = list(dict.fromkeys(SYMBOLS))
    return {
        "dataset": name,
        "audio": {"sample_rate": q["rate"], "quality": quality},
        "espeak": {"voice": espeak_voice},
        "language": {"code": language},
        "inference": {"noise_scale": 0.667, "length_scale": 1, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_map": {},
        "phoneme_id_map": {s: [i] for i, s in enumerate(symbols)},
        "num_symbols": 256,
        "num_speakers": speakers,
        "speaker_id_map": {f"speaker_{i}": i for i in range(speakers)} if speakers > 1 else {},
        "piper_version": "1.0.0",
        "livedub_test_model": "random weights: for tests and speed, never for listening",
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--language", required=True, help="e.g. es_ES")
    p.add_argument("--espeak-voice", required=True, help="e.g. es")
    p.add_argument("--quality", default="small", choices=sorted(QUALITIES))
    p.add_argument("--speakers", type=int, default=1)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("out", help="OUT_DIR/NAME.onnx (NAME.onnx.json is written beside it)")
    a = p.parse_args()
    if not a.out.endswith(".onnx"):
        sys.exit("make_piper_voice.py: the output must be NAME.onnx")
    q = QUALITIES[a.quality]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    model = build(q, 256, a.speakers, a.seed)
    tmp = a.out + ".partial"
    onnx.save(model, tmp)
    os.replace(tmp, a.out)
    name = os.path.basename(a.out)[: -len(".onnx")]
    with open(a.out + ".json", "w", encoding="utf-8") as f:
        json.dump(config(a.language, a.espeak_voice, a.quality, q, a.speakers, name), f, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
