#!/usr/bin/env python3
"""Benchmark (not a test): N concurrent 720p30 streams through the native stack.

For each N in --streams: N ffmpeg publishers (-re, one pre-rendered 720p30 H.264 + AAC file,
copied) publish through scripts/stack with the mock STS (mock-passthrough) and the worker's
defaults otherwise. Over a --seconds window, once every stream has output, it measures:
  - per stream worker: CPU (% of one core) and peak RSS;
  - late video frames (the worker's own counter) and fallbacks (its log);
  - dropped frames and output delay: every video frame is matched between live/<id>/in and
    live/<id>/out by its last bytes (slice data, which caption SEI does not touch), read by an
    ffmpeg copy reader on each; the delay is out arrival - in arrival, against the delay the
    worker planned (its log), and frames outside +-40 ms of it are counted;
  - the machine's total CPU (the bench's own publishers and readers included: they are shown).
--audio music: colobot's "Constructive" (speech-free); speech: asterisk prompts over it.
  python3 bench/scale_streams.py --build-dir build --streams 8,16,24,32 --audio music --seconds 40
"""
import argparse, glob, os, re, statistics, subprocess, sys, tempfile, threading, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from fault_suite import Stack, _environ  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--build-dir", default="build")
p.add_argument("--streams", default="8,16,24,32")
p.add_argument("--audio", choices=["music", "speech"], default="music")
p.add_argument("--seconds", type=int, default=40, help="measurement window")
p.add_argument("--tolerance-ms", type=float, default=40.0)
p.add_argument("--env", action="append", default=[], help="VAR=value for the stack (repeatable)")
a = p.parse_args()
build = os.path.abspath(a.build_dir)
HZ = os.sysconf("SC_CLK_TCK")
work = tempfile.mkdtemp(prefix="livedub-scale-")
WARMUP = 25  # planned delay (about 3 s) + worker start + first keyframe, for the last publisher


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def make_clip(seconds):
    """720p30 testsrc2 + the chosen audio, H.264 veryfast 3 Mb/s, GOP 2 s, AAC 128k stereo."""
    music = os.path.join(work, "music.wav")
    run("gst-launch-1.0", "-q", "filesrc", "location=/usr/share/games/colobot/music/Constructive.ogg", "!", "decodebin",
        "!", "audioconvert", "!", "audioresample", "!", "audio/x-raw,format=S16LE,rate=48000,channels=2", "!", "wavenc",
        "!", "filesink", f"location={music}")
    audio = music
    if a.audio == "speech":
        prompts = sorted(f for f in glob.glob("/usr/share/asterisk/sounds/en/*.wav") if 48000 <= os.path.getsize(f) <= 128000)
        parts = []
        for i, f in enumerate(prompts[:: max(1, len(prompts) // 24)][:24]):
            out = os.path.join(work, f"p{i}.wav")
            run("sox", "-q", f, "-r", "48000", "-c", "2", out, "pad", "1.5", "0")
            parts.append(out)
        speech = os.path.join(work, "speech.wav")
        run("sox", "-q", *parts, speech)
        audio = os.path.join(work, "mixed.wav")
        run("sox", "-q", "-m", "-v", "0.1", music, "-v", "1", speech, audio, "trim", "0", str(seconds))
    clip = os.path.join(work, "clip.flv")
    run("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
        "-stream_loop", "-1", "-i", audio, "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", "60",
        "-pix_fmt", "yuv420p", "-b:v", "3M", "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000", "-f", "flv", clip)
    return clip


class FrameReader:
    """ffmpeg -c copy of one RTMP path into FLV on a pipe; video frames keyed by their last bytes."""

    def __init__(self, url):
        self.arrivals = {}
        self.proc = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-fflags", "nobuffer", "-i", url,
                                      "-map", "0:v", "-c", "copy", "-flush_packets", "1", "-f", "flv", "pipe:1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        f = self.proc.stdout
        if len(f.read(13)) < 13:  # FLV header + first previous-tag size
            return
        while True:
            header = f.read(11)
            if len(header) < 11:
                return
            size = int.from_bytes(header[1:4], "big")
            body = f.read(size + 4)
            if len(body) < size + 4:
                return
            if header[0] == 9 and size > 64 and body[1] == 1:  # AVC NALU packet
                self.arrivals.setdefault(body[size - 48:size], time.monotonic())

    def stop(self):
        self.proc.terminate()


def proc_cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return None


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024
    except (OSError, AttributeError):
        return None


def machine_ticks():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def worker_metric(log_text, name):
    m = re.search(r"health and metrics on (http://127\.0\.0\.1:\d+)", log_text)
    if not m:
        return None
    try:
        with urllib.request.urlopen(m.group(1) + "/metrics", timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return None
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def measure(n, clip):
    env = {"LIVEDUB_VAD": None, "LIVEDUB_BED_MODE": None, "LIVEDUB_OUTPUT_DELAY_MS": None,
           "LIVEDUB_STS_MODE": "mock-passthrough", "LIVEDUB_MAX_STREAMS": str(max(n, 1)), "LIVEDUB_LOG_LEVEL": "info",
           # Every publisher and reader here comes from 127.0.0.1: rtmp-front's per-address
           # quota of connections not yet publishing or playing is for strangers, not this bench.
           "LIVEDUB_RTMP_MAX_PENDING_PER_ADDRESS": "64"}
    env.update(dict(kv.split("=", 1) for kv in a.env))
    stack = Stack(build, overrides=env)
    publishers, readers = [], {}
    try:
        base = f"rtmp://127.0.0.1:{stack.rtmp_port}/live"
        for i in range(n):
            publishers.append(subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", clip, "-c", "copy",
                                                "-f", "flv", f"{base}/s{i}/in"], stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
            readers[f"s{i}"] = (FrameReader(f"{base}/s{i}/in"), FrameReader(f"{base}/s{i}/out"))
            time.sleep(0.25)
        time.sleep(WARMUP)
        workers = {}
        for pid in stack.all_workers():
            m = re.search(r"LIVEDUB_STREAM_ID=([^\0]+)", _environ(pid))
            if m:
                workers[m.group(1)] = pid
        others = [pr.pid for pr in publishers] + [r.proc.pid for pair in readers.values() for r in pair]
        t0 = time.monotonic()
        w0 = {sid: proc_cpu_ticks(pid) for sid, pid in workers.items()}
        o0 = sum(proc_cpu_ticks(pid) or 0 for pid in others)
        busy0, total0 = machine_ticks()
        rss = {}
        while time.monotonic() < t0 + a.seconds:
            for sid, pid in workers.items():
                rss[sid] = max(rss.get(sid, 0), rss_mb(pid) or 0)
            time.sleep(2)
        t1 = time.monotonic()
        w1 = {sid: proc_cpu_ticks(pid) for sid, pid in workers.items()}
        o1 = sum(proc_cpu_ticks(pid) or 0 for pid in others)
        busy1, total1 = machine_ticks()
        time.sleep(8)  # the window's last frames come out a delay later
        rows = []
        for i in range(n):
            sid = f"s{i}"
            log = ""
            for path in glob.glob(os.path.join(stack.run_dir, "logs", f"worker-{sid}.log")):
                log = open(path, errors="replace").read()
            planned = re.search(r"output delay (\d+) ms", log)
            planned = int(planned.group(1)) if planned else None
            fallbacks = log.count("falls back to original audio")
            late = worker_metric(log, "livedub_worker_late_video_frames_total")
            # Copies: the readers are still adding frames.
            inp, out = dict(readers[sid][0].arrivals), dict(readers[sid][1].arrivals)
            window = [k for k, t in inp.items() if t0 <= t <= t1]
            delays = [1000 * (out[k] - inp[k]) for k in window if k in out]
            cpu = None
            if sid in workers and w0.get(sid) is not None and w1.get(sid) is not None:
                cpu = 100.0 * (w1[sid] - w0[sid]) / HZ / (t1 - t0)
            rows.append(dict(sid=sid, cpu=cpu, rss=rss.get(sid), planned=planned, frames=len(window),
                             dropped=len(window) - len(delays), late=late, fallbacks=fallbacks, delays=delays))
        return rows, 100.0 * (busy1 - busy0) / max(1, total1 - total0) * os.cpu_count(), \
            100.0 * (o1 - o0) / HZ / (t1 - t0)
    finally:
        for pair in readers.values():
            for r in pair:
                r.stop()
        for pub in publishers:
            pub.terminate()
        stack.stop()


def main():
    counts = [int(x) for x in a.streams.split(",")]
    clip = make_clip(WARMUP + a.seconds + 20)
    print(f"{a.audio} audio, 720p30 H.264 3 Mb/s + AAC 128k, mock STS, worker defaults"
          + (f" with {' '.join(a.env)}" if a.env else "") + f"; {a.seconds} s window, {os.cpu_count()} cores")
    print(f"{'N':>3} {'worker CPU % (mean/max)':>24} {'RSS MB (mean/max)':>18} {'late':>5} {'dropped':>8} {'fallbacks':>9} "
          f"{'delay - planned ms (min/med/max)':>33} {'outside':>8} {'machine %':>10} {'bench procs %':>14}")
    for n in counts:
        rows, machine, others = measure(n, clip)
        cpus = [r["cpu"] for r in rows if r["cpu"] is not None]
        rsss = [r["rss"] for r in rows if r["rss"]]
        offsets = [d - r["planned"] for r in rows if r["planned"] for d in r["delays"]]
        outside = sum(abs(o) > a.tolerance_ms for o in offsets)
        missing = sum(r["cpu"] is None for r in rows)
        late = sum(int(r["late"] or 0) for r in rows)
        print(f"{n:>3} {statistics.mean(cpus) if cpus else float('nan'):>15.1f} / {max(cpus, default=float('nan')):>5.1f} "
              f"{statistics.mean(rsss) if rsss else float('nan'):>10.0f} / {max(rsss, default=float('nan')):>5.0f} "
              f"{late:>5} {sum(r['dropped'] for r in rows):>8} {sum(r['fallbacks'] for r in rows):>9} "
              f"{min(offsets, default=float('nan')):>+11.0f} / {statistics.median(offsets) if offsets else float('nan'):>+5.0f} / "
              f"{max(offsets, default=float('nan')):>+5.0f} {outside:>8} {machine:>10.0f} {others:>14.0f}"
              + (f"  ({missing} streams had no worker)" if missing else ""))
        sys.stdout.flush()
    print("worker CPU: % of one core per stream over the window; machine %: of one core, all processes "
          "(200 = both cores); bench procs: the publishers and frame readers together")


main()
