#!/usr/bin/env python3
"""Benchmark (not a test): the native stack at and over its stream limit.

Publishes --publishers 720p30 H.264 + AAC streams (ffmpeg -re, a pre-rendered file, copied)
through the native stack (scripts/stack, mock-tone STS, the worker's defaults otherwise), plus
one livedub-probe stream that measures what a viewer gets (delay, gaps, A/V sync) while the
host is full. With LIVEDUB_MAX_STREAMS unset the limit is the capacity rule's (4 per usable
core). Prints, per stream: admitted or refused (with the orchestrator's reason), worker
restarts, late video frames, fallbacks, RSS; and the host's CPU idle.
  python3 bench/capacity.py --build-dir build --publishers 10 --seconds 60
"""
import argparse, json, os, re, subprocess, sys, tempfile, time, urllib.error, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from fault_suite import Stack, _environ  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--build-dir", default="build")
p.add_argument("--publishers", type=int, default=10, help="ffmpeg publishers besides the probe")
p.add_argument("--seconds", type=int, default=60, help="how long the probe publishes once all others started")
p.add_argument("--size", default="1280x720")
p.add_argument("--max-streams", default=None, help="LIVEDUB_MAX_STREAMS (default: the stack's own rule)")
a = p.parse_args()
build = os.path.abspath(a.build_dir)

work = tempfile.mkdtemp(prefix="livedub-capacity-")
media = os.path.join(work, "source.flv")
subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size={a.size}:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "20", "-c:v", "libx264",
                "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", "-b:v", "2500k", "-c:a", "aac", "-b:a", "128k",
                "-f", "flv", media], check=True)


def cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)  # idle + iowait, total


def get(url, token):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode(errors="replace") or "{}")


def metric(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


overrides = {"LIVEDUB_VAD": None, "LIVEDUB_BED_MODE": None, "LIVEDUB_MAX_STREAMS": a.max_streams}
stack = Stack(build, overrides=overrides)
publishers = []
try:
    base = f"rtmp://127.0.0.1:{stack.rtmp_port}/live"
    probe_json = os.path.join(work, "probe.json")
    probe = subprocess.Popen([os.path.join(build, "tools/probe/livedub-probe"), "--in", f"{base}/probe/in",
                              "--out", f"{base}/probe/out", "--duration", str(a.seconds + 2 * a.publishers),
                              "--drain", "10", "--publisher", "ffmpeg", "--json", probe_json],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "probe.err"), "w"))
    time.sleep(5)
    for i in range(a.publishers):  # one a second, as streams arrive on a busy host
        publishers.append(subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                                            "-i", media, "-c", "copy", "-f", "flv", f"{base}/s{i}/in"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(2)
    idle0, total0 = cpu_times()
    rss = {}
    samples_end = time.monotonic() + a.seconds - 5
    while time.monotonic() < samples_end:
        for pid in stack.all_workers():
            m = re.search(r"LIVEDUB_STREAM_ID=([^\0]+)", _environ(pid))
            try:
                with open(f"/proc/{pid}/status") as f:
                    kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
            except (OSError, AttributeError):
                continue
            if m:
                rss[m.group(1)] = max(rss.get(m.group(1), 0), kb // 1024)
        time.sleep(2)
    idle1, total1 = cpu_times()
    status, streams = get(f"http://127.0.0.1:{stack.orch_port}/v1/streams", stack.token)
    admitted = {s["stream_id"]: s for s in (streams if status == 200 else [])}
    late = {}
    for sid in admitted:
        try:
            with open(os.path.join(stack.run_dir, "logs", f"worker-{sid}.log")) as f:
                url = re.search(r"health and metrics on (http://127\.0\.0\.1:\d+)", f.read()).group(1)
            with urllib.request.urlopen(url + "/metrics", timeout=3) as r:
                text = r.read().decode()
            late[sid] = (int(metric(text, "livedub_worker_late_video_frames_total")),
                         int(metric(text, "livedub_worker_video_frames_total")),
                         int(metric(text, "livedub_worker_language_fallbacks_total")))
        except (OSError, AttributeError):
            late[sid] = None
    probe.wait(a.seconds + 2 * a.publishers + 60)
    report = json.load(open(probe_json)) if os.path.exists(probe_json) else {}
    print(f"{a.publishers} ffmpeg publishers ({a.size}p30) + 1 probe; LIVEDUB_MAX_STREAMS="
          f"{a.max_streams or 'default'}; {len(admitted)} admitted")
    print(f"{'stream':8} {'state':10} {'restarts':>8} {'late/frames':>14} {'fallbacks':>9} {'RSS MB':>7}  refusal")
    for sid in ["probe"] + [f"s{i}" for i in range(a.publishers)]:
        if sid in admitted:
            s = admitted[sid]
            lf = late.get(sid)
            print(f"{sid:8} {s['state']:10} {s['restarts']:>8} {(f'{lf[0]}/{lf[1]}' if lf else '?'):>14} "
                  f"{(lf[2] if lf else '?'):>9} {rss.get(sid, '?'):>7}")
        else:
            code, body = get(f"http://127.0.0.1:{stack.orch_port}/v1/streams/{sid}", stack.token)
            err = body.get("error", {}) if isinstance(body, dict) else {}
            print(f"{sid:8} {'refused' if err.get('code') == 'refused_stream' else 'absent':10} {'-':>8} {'-':>14} "
                  f"{'-':>9} {'-':>7}  {code} {err.get('code', '')}: {err.get('message', '')[:90]}")
    print(f"host CPU idle while full: {100.0 * (idle1 - idle0) / max(1, total1 - total0):.0f} %")
    keys = ["first_output_after_publish_s", "delay_median_ms", "delay_min_ms", "delay_max_ms", "max_arrival_gap_ms",
            "missing_frames", "reconnects"]
    print("probe stream: " + ", ".join(f"{k} {report.get(k)}" for k in keys))
    offsets = report.get("sync_offsets_ms") or []
    if offsets:
        print(f"probe A/V sync: worst {max(abs(x) for x in offsets):.0f} ms over {len(offsets)} flash/beep pairs")
finally:
    for pub in publishers:
        pub.terminate()
    stack.stop()
