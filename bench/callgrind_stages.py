#!/usr/bin/env python3
"""Benchmark report (not a test): a stream worker's instructions by stage, from the per-thread
callgrind dumps `RELAY_CALLGRIND=DIR bash bench/relay_cpu.sh` writes.

    python3 bench/callgrind_stages.py DIR [--top N]

Each thread is told apart by what it runs (the ingest thread is the one running ONNX Runtime,
the encoder the one calling avcodec_send_frame, ...), then each function's own cost ("self") goes
to a stage by its library or its name. Debian's libraries have no symbols for their static
functions, so a library is the finest grain there. Counts are millions of instructions per second
of media the worker got through (AAC frames / 46.875; decoded ones for the ingest's stages,
encoded ones for the output's): under callgrind it runs slower than live, so wall time would not
mean anything. Instructions are not time: waking threads (kernel)
and cache misses do not show here; `RELAY_THREADS=1` and perf measure those.
"""
import argparse
import collections
import glob
import re
import sys

AAC_FRAMES_PER_S = 48000 / 1024  # the bench clip: AAC, 48 kHz

DEF = re.compile(r"^(c?)(ob|fn|fi|fe|fl)=(?:\((\d+)\))?(?: ?(.*))?$")


def parse(path):
    """Self cost per (object, function) and call counts per callee, for one callgrind file."""
    names = {"ob": {}, "fn": {}}
    current = {"ob": "?", "fn": "?"}
    self_cost = collections.Counter()
    calls = collections.Counter()
    callee = None
    after_calls = False
    with open(path, errors="replace") as f:
        for line in f:
            m = DEF.match(line.rstrip("\n"))
            if m:
                called, kind, ident, name = m.groups()
                if kind not in names:
                    continue
                if ident is not None and name:
                    names[kind][ident] = name
                value = names[kind].get(ident, name or "?") if ident is not None else (name or "?")
                if called:
                    if kind == "fn":
                        callee = value
                else:
                    current[kind] = value
                continue
            if line.startswith("calls="):
                calls[callee] += int(line.split()[0][len("calls="):])
                after_calls = True  # the next cost line is the call's inclusive cost, not self
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if after_calls:
                    after_calls = False
                elif len(parts) >= 2:
                    self_cost[(current["ob"].rsplit("/", 1)[-1], current["fn"])] += int(parts[1])
    return self_cost, calls


def has(cost, pattern):
    return any(re.search(pattern, ob) or re.search(pattern, fn) for ob, fn in cost)


def role(cost, calls):
    if has(cost, r"libonnxruntime"):
        return "ingest"
    if calls.get("avcodec_send_frame"):
        return "encoder"
    if has(cost, r"VoiceReducer|mix_fragment|pace_loop"):
        return "pacing"
    if has(cost, r"libgstflv"):
        return "mux"
    if has(cost, r"libgstrtmp2"):
        return "rtmp"
    return "other"


HANDOFF = "GStreamer glue: buffers, events, locks, allocation"
NAMED = [  # (stage, pattern on the function name), wherever it runs
    ("CEA-608 captions / SEI", r"[Cc]aption|[Cc]ea608|608|[Ss]ei"),
    ("logging and metrics", r"livedub::log|[Mm]etric|Counter|Histogram|Gauge"),
]


def stage(thread_role, ob, fn):
    for name, pattern in NAMED:
        if "stream-worker" in ob and re.search(pattern, fn):
            return name
    if thread_role == "ingest":
        if ob.startswith("libonnxruntime"):
            return "VAD: Silero (ONNX Runtime)"
        if re.search(r"resample_mono|downmix_to_mono|livedub::rms", fn) or ob.startswith("libm."):
            return "VAD input: downmix, 48 -> 16 kHz, level"
        if ob.startswith("stream-worker"):
            return "VAD logic, fragment cutter, ingest callbacks"
        if re.match(r"libav|libgstlibav", ob):
            return "AAC decode"
        if ob.startswith("libgstflv"):
            return "FLV demux"
        if ob.startswith("libgstvideoparsersbad"):
            return "H.264 parse"
        if ob.startswith("libgstaudioparsers"):
            return "AAC parse (input)"
        if re.match(r"libgstaudio|liborc|libgstaudioconvert|libgstaudioresample", ob):
            return "sample conversion (input)"
        return HANDOFF
    if thread_role == "encoder":
        if re.match(r"libav|libgstlibav|libm\.", ob):
            return "AAC encode"
        if re.match(r"libgstaudio|liborc|libgstaudioconvert", ob):
            return "sample conversion (output)"
        if ob.startswith("libgstaudioparsers"):
            return "AAC parse (output)"
        return HANDOFF
    if thread_role == "pacing":
        if re.search(r"VoiceReducer|reduction_weight", fn) or ob.startswith("libfftw"):
            return "voice reducer (STFT)"
        if re.search(r"mix_fragment|duck_envelope|saturate", fn) or ob.startswith("libm."):
            return "mix"
        if ob.startswith("stream-worker"):
            return "pacing, scheduling"
        return HANDOFF
    if thread_role == "mux":
        return "FLV mux" if ob.startswith("libgstflv") else HANDOFF
    if thread_role == "rtmp":
        return "RTMP in and out (rtmp2src / rtmp2sink connections)"
    return "other threads (bus watches, STS dispatch, health, GLib)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--top", type=int, default=0, help="also list the N costliest functions")
    args = parser.parse_args()
    files = sorted(glob.glob(f"{args.dir}/callgrind.out.*-*"))
    if not files:
        sys.exit(f"no callgrind.out.*-* files in {args.dir}: run RELAY_CALLGRIND={args.dir} bash bench/relay_cpu.sh")
    stages = collections.Counter()
    functions = collections.Counter()
    side_of = {}  # stage -> "in" or "out", which media count it is divided by
    decoded_frames = encoded_frames = 0
    for path in files:
        cost, calls = parse(path)
        r = role(cost, calls)
        if r == "ingest":
            decoded_frames += calls.get("avcodec_send_packet", 0)
        if r == "encoder":
            encoded_frames += calls.get("avcodec_send_frame", 0)
        side = "out" if r in ("encoder", "pacing", "mux") else "in"
        for (ob, fn), n in cost.items():
            name = stage(r, ob, fn)
            stages[(name, side)] += n
            functions[(r, ob, fn, side)] += n
    if decoded_frames == 0 or encoded_frames == 0:
        sys.exit("no AAC frame decoded or encoded while collecting: the worker did not get media (see its log)")
    seconds = {"in": decoded_frames / AAC_FRAMES_PER_S, "out": encoded_frames / AAC_FRAMES_PER_S}
    rate = collections.Counter()
    for (name, side), n in stages.items():
        rate[name] += n / 1e6 / seconds[side]
    total = sum(rate.values())
    print(f"stream worker under callgrind: {seconds['in']:.1f} s of media decoded, {seconds['out']:.1f} s encoded")
    print(f"  {'stage':<52} {'M instr / s of media':>21} {'share':>7}")
    for name, r in rate.most_common():
        print(f"  {name:<52} {r:21.2f} {100 * r / total:6.1f} %")
    print(f"  {'total':<52} {total:21.1f}")
    if args.top:
        print(f"  costliest functions (thread, library, function; M instr / s of media):")
        top = sorted(functions.items(), key=lambda item: -item[1] / seconds[item[0][3]])[:args.top]
        for (r, ob, fn, side), n in top:
            print(f"    {n / 1e6 / seconds[side]:8.2f}  {r:<8} {ob:<28} {fn[:70]}")


if __name__ == "__main__":
    main()
