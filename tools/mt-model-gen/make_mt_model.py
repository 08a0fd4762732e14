#!/usr/bin/env python3
"""Writes a translation model with random weights, of the real architecture and in the exact
layout users download (Hugging Face repository + Optimum / transformers.js ONNX export), so the
STS's neural MT engine runs its whole path (tokenisers, encoder, merged decoder with past
key/values, greedy decoding) without real weights, which cannot be downloaded here.

    make_mt_model.py --family marian --pair en-es --shape small OUT_DIR
    make_mt_model.py --family m2m100 --shape real OUT_DIR

Families and what they write (as their hub repositories and their ONNX exports name them):
  marian  (Helsinki-NLP/opus-mt-SRC-TGT): config.json, source.spm, target.spm, vocab.json,
          tokenizer_config.json, onnx/encoder_model.onnx, onnx/decoder_model_merged.onnx
          (+ *_quantized.onnx, int8 as ONNX Runtime's dynamic quantiser writes them)
  m2m100  (facebook/m2m100_418M): config.json, sentencepiece.bpe.model, vocab.json,
          special_tokens_map.json, tokenizer_config.json, onnx/... as above
Shapes: small (d_model 32, 2+2 layers: tests) or real (OPUS-MT: d 512, 6+6 layers, 65001
tokens; M2M100-418M: d 1024, 12+12 layers, 128112 tokens: benchmarks).

Needs Debian's python3-onnx and python3-numpy, and spm_train (package sentencepiece).
"""
import argparse
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization
ALLOW_NO_TOKENIZER = False

# M2M100's 100 languages, in the order its tokenizer numbers their tokens (__xx__ ids follow the
# SentencePiece vocabulary).
M2M100_LANGUAGES = (
    "af am ar ast az ba be bg bn br bs ca ceb cs cy da de el en es et fa ff fi fr fy ga gd gl gu ha he hi hr ht hu hy id ig "
    "ilo is it ja jv ka kk km kn ko lb lg ln lo lt lv mg mk ml mn mr ms my ne nl no ns oc or pa pl ps pt ro ru sd si sk "
    "sl so sq sr ss su sv sw ta th tl tn tr uk ur uz vi wo xh yi yo zh zu").split()

SHAPES = {
    ("marian", "small"): dict(d=32, layers=2, heads=4, ffn=64, vocab=None, positions=512),
    ("marian", "real"): dict(d=512, layers=6, heads=8, ffn=2048, vocab=65001, positions=512),
    ("m2m100", "small"): dict(d=32, layers=2, heads=4, ffn=64, vocab=None, positions=1024),
    ("m2m100", "real"): dict(d=1024, layers=12, heads=16, ffn=4096, vocab=128112, positions=1024),
}

FALLBACK_CORPUS = """the stream starts in five minutes please stay with us
welcome back everyone today we are building a new level
el directo empieza en cinco minutos quedaos con nosotros
bienvenidos de nuevo hoy construimos un nivel nuevo
go forward ten meters and turn left at the red door
sigue recto diez metros y gira a la izquierda en la puerta roja
thank you for watching see you tomorrow at the same time
gracias por ver nos vemos mañana a la misma hora
"""


def corpus_lines():
    """Real sentences for the tokenisers: the asterisk prompts' transcripts where installed."""
    lines = []
    for lang in ("en", "es", "fr", "it"):
        path = f"/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
        if os.path.exists(path):
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                for line in f:
                    if ":" in line and not line.startswith(";"):
                        lines.append(line.split(":", 1)[1].strip())
    if len(lines) < 100:
        lines += FALLBACK_CORPUS.strip().splitlines() * 20
    return [line for line in lines if line]


def train_spm(corpus, prefix, vocab_size, model_type):
    if shutil.which("spm_train") is None:
        if not ALLOW_NO_TOKENIZER:
            sys.exit("make_mt_model: spm_train not found (Debian: sentencepiece); --no-tokenizer writes the ONNX "
                     "files alone (speed benchmarks)")
        return [f"\u2581w{i}" for i in range(vocab_size)]  # pieces only: no .spm file is written
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(corpus) + "\n")
        text = f.name
    try:
        subprocess.run(
            ["spm_train", f"--input={text}", f"--model_prefix={prefix}", f"--vocab_size={vocab_size}",
             f"--model_type={model_type}", "--hard_vocab_limit=false", "--character_coverage=1.0",
             "--minloglevel=2", "--bos_id=-1", "--eos_id=-1", "--unk_id=0"],
            check=True, stdout=subprocess.DEVNULL)
    finally:
        os.unlink(text)
    with open(prefix + ".vocab", encoding="utf-8") as f:
        pieces = [line.split("\t")[0] for line in f]
    os.unlink(prefix + ".vocab")
    return pieces


class Graph:
    """Collects nodes and initialisers; names are prefixed so the If branches stay distinct."""

    def __init__(self, rng, quantized, prefix=""):
        self.nodes, self.inits, self.rng, self.quantized, self.prefix, self.n = [], [], rng, quantized, prefix, 0

    def name(self, hint):
        self.n += 1
        return f"{self.prefix}{hint}_{self.n}"

    def op(self, op_type, inputs, hint=None, outputs=1, **attrs):
        outs = [self.name(hint or op_type) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, array, hint="const"):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name


class Weights:
    """The model's parameters, created once and shared by both branches of the merged decoder."""

    def __init__(self, rng, quantized):
        self.rng, self.quantized, self.inits, self.cache = rng, quantized, [], {}

    def tensor(self, name, array):
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def normal(self, name, shape, std=0.02):
        return self.tensor(name, (self.rng.standard_normal(shape, dtype=np.float32) * std).astype(np.float32))

    def fill(self, name, shape, value):
        return self.tensor(name, np.full(shape, value, dtype=np.float32))

    def linear(self, name, d_in, d_out):
        """(weight, bias) names; int8 weight + scale + zero point when quantised."""
        w = (self.rng.standard_normal((d_in, d_out), dtype=np.float32) * 0.02).astype(np.float32)
        b = self.tensor(name + ".bias", np.zeros(d_out, dtype=np.float32))
        if not self.quantized:
            return (self.tensor(name + ".weight", w), b)
        scale = np.float32(np.abs(w).max() / 127.0)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        return ((self.tensor(name + ".weight_quantized", q), self.tensor(name + ".weight_scale", np.array(scale, np.float32)),
                 self.tensor(name + ".weight_zero_point", np.array(0, np.int8))), b)


def linear(g, x, params):
    weight, bias = params
    if isinstance(weight, tuple):  # ONNX Runtime's dynamic quantisation pattern
        q, scale, zero = weight
        xq, xs, xz = g.op("DynamicQuantizeLinear", [x], outputs=3)
        acc = g.op("MatMulInteger", [xq, q, xz, zero])
        y = g.op("Mul", [g.op("Cast", [acc], to=TensorProto.FLOAT), g.op("Mul", [xs, scale])])
    else:
        y = g.op("MatMul", [x, weight])
    return g.op("Add", [y, bias])


def layer_norm(g, x, params):
    return g.op("LayerNormalization", [x, params[0], params[1]], axis=-1, epsilon=1e-5)


def split_heads(g, x, heads, head_dim):
    # [B, T, D] -> [B, H, T, Dh]
    y = g.op("Reshape", [x, g.const(np.array([0, -1, heads, head_dim], np.int64), "heads_shape")])
    return g.op("Transpose", [y], perm=[0, 2, 1, 3])


def merge_heads(g, x, d):
    y = g.op("Transpose", [x], perm=[0, 2, 1, 3])
    return g.op("Reshape", [y, g.const(np.array([0, -1, d], np.int64), "model_shape")])


def attend(g, q, k, v, mask, head_dim):
    scores = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = g.op("Mul", [scores, g.const(np.array(1.0 / math.sqrt(head_dim), np.float32), "scale")])
    if mask is not None:
        scores = g.op("Add", [scores, mask])
    return g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])


def padding_mask(g, mask_input):
    # [B, S] int64 of 1/0 -> additive [B, 1, 1, S]
    m = g.op("Cast", [mask_input], to=TensorProto.FLOAT)
    m = g.op("Mul", [g.op("Sub", [g.const(np.array(1.0, np.float32)), m]), g.const(np.array(-1e9, np.float32))])
    return g.op("Unsqueeze", [m, g.const(np.array([1, 2], np.int64))])


def sinusoids(positions, d):
    """Marian / M2M100 static positions: sines in the first half, cosines in the second."""
    half = d // 2
    freq = np.exp(np.arange(half, dtype=np.float64) * -(math.log(10000.0) / (half - 1 if half > 1 else 1)))
    angles = np.arange(positions, dtype=np.float64)[:, None] * freq[None, :]
    table = np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)
    return table


def embed(g, w, ids, offset, cfg):
    x = g.op("Gather", [w["embed"], ids], axis=0)
    x = g.op("Mul", [x, g.const(np.array(math.sqrt(cfg["d"]), np.float32), "embed_scale")])
    length = g.op("Gather", [g.op("Shape", [ids]), g.const(np.array(1, np.int64))], axis=0)
    start = g.op("Add", [offset, g.const(np.array(cfg["position_offset"], np.int64))])
    positions = g.op("Range", [start, g.op("Add", [start, length]), g.const(np.array(1, np.int64))])
    return g.op("Add", [x, g.op("Gather", [w["positions"], positions], axis=0)])


def block(g, x, sublayer, ln, pre_norm):
    if pre_norm:
        return g.op("Add", [x, sublayer(layer_norm(g, x, ln))])
    return layer_norm(g, g.op("Add", [x, sublayer(x)]), ln)


def ffn(g, x, p, activation):
    h = linear(g, x, p["fc1"])
    h = g.op("Relu", [h]) if activation == "relu" else g.op("Mul", [h, g.op("Sigmoid", [h])])
    return linear(g, h, p["fc2"])


def make_weights(cfg, rng, quantized):
    d, f, v = cfg["d"], cfg["ffn"], cfg["vocab"]
    w = Weights(rng, quantized)
    out = {"embed": w.normal("model.shared.weight", (v, d)),
           "positions": w.tensor("model.positions", sinusoids(cfg["positions"] + 2, d)),
           "lm_head": w.linear("lm_head", d, v), "enc": [], "dec": []}
    if cfg["family"] == "marian":
        out["logits_bias"] = w.fill("final_logits_bias", (v,), 0.0)
    else:
        out["enc_ln"] = (w.fill("encoder.layer_norm.weight", (d,), 1.0), w.fill("encoder.layer_norm.bias", (d,), 0.0))
        out["dec_ln"] = (w.fill("decoder.layer_norm.weight", (d,), 1.0), w.fill("decoder.layer_norm.bias", (d,), 0.0))
    if cfg["family"] == "marian":  # Marian's output bias is final_logits_bias
        w.inits = [t for t in w.inits if t.name != "lm_head.bias"]
    for side in ("enc", "dec"):
        for i in range(cfg["layers"]):
            p = f"{side}.{i}."
            layer = {k: w.linear(p + k, d, d) for k in ("q", "k", "v", "o")}
            layer["fc1"], layer["fc2"] = w.linear(p + "fc1", d, f), w.linear(p + "fc2", f, d)
            norms = ["ln_self", "ln_ffn"] + (["ln_cross"] if side == "dec" else [])
            for n in norms:
                layer[n] = (w.fill(p + n + ".weight", (d,), 1.0), w.fill(p + n + ".bias", (d,), 0.0))
            if side == "dec":
                layer.update({"c" + k: w.linear(p + "cross_" + k, d, d) for k in ("q", "k", "v", "o")})
            out[side].append(layer)
    return out, w.inits


def encoder_graph(cfg, w, inits):
    g = Graph(None, False)
    d, h = cfg["d"], cfg["heads"]
    dh = d // h
    pre = cfg["family"] == "m2m100"
    mask = padding_mask(g, "attention_mask")
    x = embed(g, w, "input_ids", g.const(np.array(0, np.int64)), cfg)
    for layer in w["enc"]:
        def self_attention(y, layer=layer):
            q, k, v = (split_heads(g, linear(g, y, layer[n]), h, dh) for n in ("q", "k", "v"))
            return linear(g, merge_heads(g, attend(g, q, k, v, mask, dh), d), layer["o"])
        x = block(g, x, self_attention, layer["ln_self"], pre)
        x = block(g, x, lambda y, layer=layer: ffn(g, y, layer, cfg["activation"]), layer["ln_ffn"], pre)
    if pre:
        x = layer_norm(g, x, w["enc_ln"])
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        g.nodes, "encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "encoder_sequence_length"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "encoder_sequence_length"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                       ["batch_size", "encoder_sequence_length", d])],
        initializer=inits + g.inits)
    return graph


def decoder_branch(cfg, w, cached):
    """One branch of the merged decoder: with past key/values (cached) or computing them."""
    g = Graph(None, False, prefix="with_past_" if cached else "no_past_")
    d, h, n = cfg["d"], cfg["heads"], cfg["layers"]
    dh = d // h
    pre = cfg["family"] == "m2m100"
    zero = g.const(np.array(0, np.int64))
    if cached:
        past_length = g.op("Gather", [g.op("Shape", ["past_key_values.0.decoder.key"]), g.const(np.array(2, np.int64))],
                           axis=0)
    else:
        past_length = zero
    x = embed(g, w, "input_ids", past_length, cfg)
    # Causal mask over [past + new] keys for the new queries: key j is hidden from query i when
    # j > past + i.
    new_length = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const(np.array(1, np.int64))], axis=0)
    one = g.const(np.array(1, np.int64))
    total = g.op("Add", [past_length, new_length])
    query_pos = g.op("Unsqueeze", [g.op("Range", [past_length, total, one]), g.const(np.array([1], np.int64))])
    key_pos = g.op("Unsqueeze", [g.op("Range", [zero, total, one]), g.const(np.array([0], np.int64))])
    causal = g.op("Where", [g.op("Greater", [key_pos, query_pos]), g.const(np.array(-1e9, np.float32)),
                            g.const(np.array(0.0, np.float32))])
    cross_mask = padding_mask(g, "encoder_attention_mask")
    outputs = []
    for i, layer in enumerate(w["dec"]):
        present = {}

        def self_attention(y, layer=layer, i=i, present=present):
            q = split_heads(g, linear(g, y, layer["q"]), h, dh)
            k = split_heads(g, linear(g, y, layer["k"]), h, dh)
            v = split_heads(g, linear(g, y, layer["v"]), h, dh)
            if cached:
                k = g.op("Concat", [f"past_key_values.{i}.decoder.key", k], axis=2)
                v = g.op("Concat", [f"past_key_values.{i}.decoder.value", v], axis=2)
            present["decoder.key"], present["decoder.value"] = k, v
            return linear(g, merge_heads(g, attend(g, q, k, v, causal, dh), d), layer["o"])

        def cross_attention(y, layer=layer, i=i, present=present):
            q = split_heads(g, linear(g, y, layer["cq"]), h, dh)
            if cached:
                k, v = f"past_key_values.{i}.encoder.key", f"past_key_values.{i}.encoder.value"
            else:
                k = split_heads(g, linear(g, "encoder_hidden_states", layer["ck"]), h, dh)
                v = split_heads(g, linear(g, "encoder_hidden_states", layer["cv"]), h, dh)
            present["encoder.key"], present["encoder.value"] = k, v
            return linear(g, merge_heads(g, attend(g, q, k, v, cross_mask, dh), d), layer["co"])

        x = block(g, x, self_attention, layer["ln_self"], pre)
        x = block(g, x, cross_attention, layer["ln_cross"], pre)
        x = block(g, x, lambda y, layer=layer: ffn(g, y, layer, cfg["activation"]), layer["ln_ffn"], pre)
        for kind in ("decoder.key", "decoder.value", "encoder.key", "encoder.value"):
            outputs.append(g.op("Identity", [present[kind]], hint=f"present_{i}_{kind}"))
    if pre:
        x = layer_norm(g, x, w["dec_ln"])
    logits = linear(g, x, (w["lm_head"][0], w["logits_bias"] if "logits_bias" in w else w["lm_head"][1]))
    outs = [logits] + outputs
    value_infos = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outs]
    return helper.make_graph(g.nodes, "with_past" if cached else "no_past", [], value_infos, initializer=g.inits)


def decoder_graph(cfg, w, inits):
    d, h, n = cfg["d"], cfg["heads"], cfg["layers"]
    dh = d // h
    inputs = [helper.make_tensor_value_info("encoder_attention_mask", TensorProto.INT64,
                                            ["batch_size", "encoder_sequence_length"]),
              helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "decoder_sequence_length"]),
              helper.make_tensor_value_info("encoder_hidden_states", TensorProto.FLOAT,
                                            ["batch_size", "encoder_sequence_length", d])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                             ["batch_size", "decoder_sequence_length", cfg["vocab"]])]
    for i in range(n):
        for kind, length in (("decoder", "past_decoder_sequence_length"), ("encoder", "encoder_sequence_length_out")):
            for kv in ("key", "value"):
                inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}.{kv}", TensorProto.FLOAT,
                                                            ["batch_size", h, length, dh]))
                out_length = "past_decoder_sequence_length + 1" if kind == "decoder" else "encoder_sequence_length_out"
                outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}.{kv}", TensorProto.FLOAT,
                                                             ["batch_size", h, out_length, dh]))
    inputs.append(helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]))
    node = helper.make_node("If", ["use_cache_branch"], [o.name for o in outputs], name="optimum::if",
                            then_branch=decoder_branch(cfg, w, True), else_branch=decoder_branch(cfg, w, False))
    return helper.make_graph([node], "decoder_model_merged", inputs, outputs, initializer=inits)


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="livedub-mt-model-gen")
    model.ir_version = 8
    onnx.checker.check_model(model) if model.ByteSize() < 2_000_000_000 else None
    onnx.save(model, path)


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=("marian", "m2m100"), required=True)
    parser.add_argument("--pair", default="en-es", help="marian: SRC-TGT (the model's one direction)")
    parser.add_argument("--shape", choices=("small", "real"), default="small")
    parser.add_argument("--no-float", action="store_true", help="only the int8 (*_quantized.onnx) files")
    parser.add_argument("--no-int8", action="store_true", help="only the float files")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-tokenizer", action="store_true",
                        help="where spm_train is missing: ONNX files and config only (GPU speed benchmarks)")
    parser.add_argument("out_dir")
    args = parser.parse_args()

    global ALLOW_NO_TOKENIZER
    ALLOW_NO_TOKENIZER = args.no_tokenizer
    cfg = dict(SHAPES[(args.family, args.shape)])
    cfg["family"] = args.family
    os.makedirs(os.path.join(args.out_dir, "onnx"), exist_ok=True)
    corpus = corpus_lines()
    out = args.out_dir
    if args.family == "marian":
        source, target = args.pair.split("-")
        src_pieces = train_spm(corpus, os.path.join(out, "source"), 400, "unigram")
        tgt_pieces = train_spm(corpus, os.path.join(out, "target"), 400, "unigram")
        for side in ("source", "target"):
            if os.path.exists(os.path.join(out, side + ".model")):
                os.replace(os.path.join(out, side + ".model"), os.path.join(out, side + ".spm"))
        # One vocabulary for both sides, as OPUS-MT's: </s> 0, <unk> 1, pieces, <pad> last.
        vocab = {"</s>": 0, "<unk>": 1}
        for piece in src_pieces + tgt_pieces:
            if piece not in vocab and piece not in ("<unk>", "<s>", "</s>"):
                vocab[piece] = len(vocab)
        if cfg["vocab"] is not None:  # the real size: filler pieces no tokeniser produces
            while len(vocab) < cfg["vocab"] - 1:
                vocab[f"\u2581filler{len(vocab)}"] = len(vocab)
        vocab["<pad>"] = len(vocab)
        cfg["vocab"] = len(vocab)
        cfg.update(activation="swish", position_offset=0)
        pad = vocab["<pad>"]
        write_json(os.path.join(out, "vocab.json"), vocab)
        write_json(os.path.join(out, "tokenizer_config.json"),
                   {"source_lang": source, "target_lang": target, "model_max_length": 512,
                    "tokenizer_class": "MarianTokenizer", "unk_token": "<unk>", "eos_token": "</s>", "pad_token": "<pad>"})
        config = {"model_type": "marian", "architectures": ["MarianMTModel"], "vocab_size": cfg["vocab"],
                  "d_model": cfg["d"], "encoder_layers": cfg["layers"], "decoder_layers": cfg["layers"],
                  "encoder_attention_heads": cfg["heads"], "decoder_attention_heads": cfg["heads"],
                  "encoder_ffn_dim": cfg["ffn"], "decoder_ffn_dim": cfg["ffn"], "activation_function": "swish",
                  "max_position_embeddings": cfg["positions"], "scale_embedding": True, "normalize_before": False,
                  "pad_token_id": pad, "eos_token_id": 0, "decoder_start_token_id": pad,
                  "bad_words_ids": [[pad]], "max_length": 512, "num_beams": 4}
    else:
        pieces = train_spm(corpus, os.path.join(out, "sentencepiece.bpe"), 400, "bpe")
        # fairseq's numbering: <s> 0, <pad> 1, </s> 2, <unk> 3, then the pieces; the language
        # tokens follow the vocabulary, then the "madeup" filler words up to vocab_size.
        vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        for piece in pieces:
            if piece not in vocab:
                vocab[piece] = len(vocab)
        if cfg["vocab"] is not None:
            while len(vocab) < cfg["vocab"] - len(M2M100_LANGUAGES) - 8:
                vocab[f"\u2581filler{len(vocab)}"] = len(vocab)
        cfg["vocab"] = len(vocab) + len(M2M100_LANGUAGES) + 8
        cfg.update(activation="relu", position_offset=2)
        write_json(os.path.join(out, "vocab.json"), vocab)
        language_tokens = [f"__{code}__" for code in M2M100_LANGUAGES]
        write_json(os.path.join(out, "special_tokens_map.json"),
                   {"additional_special_tokens": language_tokens, "bos_token": "<s>", "eos_token": "</s>",
                    "pad_token": "<pad>", "unk_token": "<unk>", "sep_token": "</s>"})
        write_json(os.path.join(out, "tokenizer_config.json"),
                   {"tokenizer_class": "M2M100Tokenizer", "model_max_length": 1024, "language_codes": "m2m100",
                    "additional_special_tokens": language_tokens})
        config = {"model_type": "m2m_100", "architectures": ["M2M100ForConditionalGeneration"],
                  "vocab_size": cfg["vocab"], "d_model": cfg["d"], "encoder_layers": cfg["layers"],
                  "decoder_layers": cfg["layers"], "encoder_attention_heads": cfg["heads"],
                  "decoder_attention_heads": cfg["heads"], "encoder_ffn_dim": cfg["ffn"],
                  "decoder_ffn_dim": cfg["ffn"], "activation_function": "relu",
                  "max_position_embeddings": cfg["positions"], "scale_embedding": True, "normalize_before": True,
                  "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "decoder_start_token_id": 2,
                  "max_length": 200, "num_beams": 5}
    write_json(os.path.join(out, "config.json"), config)

    variants = []
    if not args.no_float:
        variants.append((False, ""))
    if not args.no_int8:
        variants.append((True, "_quantized"))
    for quantized, suffix in variants:
        rng = np.random.default_rng(args.seed)
        w, inits = make_weights(cfg, rng, quantized)
        save(encoder_graph(cfg, w, inits_for(inits, "enc")), os.path.join(out, "onnx", f"encoder_model{suffix}.onnx"))
        save(decoder_graph(cfg, w, inits_for(inits, "dec")),
             os.path.join(out, "onnx", f"decoder_model_merged{suffix}.onnx"))
    print(f"make_mt_model: {args.family} ({args.shape}, vocab {cfg['vocab']}, d {cfg['d']}, "
          f"{cfg['layers']}+{cfg['layers']} layers) -> {out}")


def inits_for(inits, side):
    """The encoder file holds the embedding, positions and encoder layers; the decoder the rest."""
    other = "dec." if side == "enc" else "enc."
    keep = []
    for t in inits:
        if t.name.startswith(other) or (side == "enc" and (t.name.startswith("lm_head") or t.name.startswith("decoder.")
                                                           or t.name == "final_logits_bias")):
            continue
        if side == "dec" and t.name.startswith("encoder."):
            continue
        keep.append(t)
    return keep


if __name__ == "__main__":
    sys.exit(main())
