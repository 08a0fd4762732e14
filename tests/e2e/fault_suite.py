#!/usr/bin/env python3
"""Fault injection over the real native stack (scripts/stack), as a viewer experiences it.

One stack serves every scenario, each on its own stream id (faults of shared services one at a
time, the others at once): a publisher (ffmpeg, restarted
after 1 s whenever it drops, as OBS reconnects) sends a test pattern to live/<id>/in, a viewer
(ffmpeg, reconnecting whenever its connection ends) reads live/<id>/out and notes when each
video packet arrives and its timestamp. At FAULT_AT seconds one fault is injected; at the end
the publisher stops and the scenario checks that its worker is gone.

Per scenario it reports: the longest gap between output packets, audio or video (the viewer's stall),
when output came back after the fault (recovery), fragments that fell back to the original
audio (dub lost), the most stream workers seen at once for the id (duplicates), timestamps
going backwards for a viewer that stayed connected (ffmpeg's "Non-monotonic DTS" warnings: what
breaks players), and what
was left behind (workers, /v1/streams entries).

  tests/e2e/fault_suite.py --build-dir build [--faults sts,worker,...] [--json out.json]
      [--assert]   exit 1 when a scenario exceeds its bound (the e2e test uses this)
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAULT_AT = 12.0
RUN_FOR = 34.0  # the fault, its 20 s window and 2 s to spare
OUTPUT_DELAY = 4.5  # fixed 2 s fragments + 2.5 s, set (the bounds are for it; the default is planned)

# Longest output gap allowed per fault (seconds). Physics first: a restarted worker must wait
# the output delay again before its first output, and the publisher's own absence counts.
BOUNDS = {
    "sts": 0.6,                 # STS down: original audio, no stall
    "worker": OUTPUT_DELAY + 3.0,
    "orchestrator": OUTPUT_DELAY + 3.5,
    "nginx": OUTPUT_DELAY + 6.0,  # the viewer and the publisher reconnect too
    "publisher": 5.0 + OUTPUT_DELAY + 3.0,  # the publisher is away 5 s
    "jump": 1.5,                # input timestamps jump +1 h: repaired, no stall (it froze for good)
}
JUMP_MS = 3_600_000
SHARED_FAULTS = ("sts", "orchestrator", "nginx")  # services every stream uses


def flv_with_jump(path, seconds, jump_at_ms, jump_ms):
    """An FLV test stream whose tag timestamps jump by `jump_ms` from `jump_at_ms` on, as a
    publisher whose clock jumps sends it. Returns [(original ms, tag bytes)] after the header."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "64k", "-f", "flv", "-y", path], check=True, timeout=120)
    with open(path, "rb") as f:
        data = f.read()
    header_len = int.from_bytes(data[5:9], "big") + 4  # header, then PreviousTagSize0
    tags, at = [], header_len
    while at + 11 <= len(data):
        size = int.from_bytes(data[at + 1:at + 4], "big")
        ts = int.from_bytes(data[at + 4:at + 7], "big") | (data[at + 7] << 24)
        tag = bytearray(data[at:at + 11 + size + 4])
        if ts >= jump_at_ms:
            new = ts + jump_ms
            tag[4:7] = (new & 0xFFFFFF).to_bytes(3, "big")
            tag[7] = (new >> 24) & 0xFF
        tags.append((ts, bytes(tag)))
        at += 11 + size + 4
    return data[:header_len], tags


class JumpingPublisher:
    """Publishes flv_with_jump's stream in real time (paced here by the original timestamps:
    ffmpeg's own -re would wait an hour at the jump), through ffmpeg -c copy."""

    def __init__(self, stack, url, seconds):
        self.path = os.path.join(stack.run_dir, "jump.flv")
        self.header, self.tags = flv_with_jump(self.path, seconds, int(FAULT_AT * 1000), JUMP_MS)
        self.url = url
        self.starts = 0
        self.proc = None
        self.thread = None
        self.stopping = False

    def start(self):
        self.starts += 1
        self.proc = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "flv", "-i", "pipe:0",
                                      "-c", "copy", "-f", "flv", self.url], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self):
        began = time.monotonic()
        try:
            self.proc.stdin.write(self.header)
            for ts, tag in self.tags:
                if self.stopping:
                    break
                delay = began + ts / 1000.0 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.proc.stdin.write(tag)
                self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def kill(self, hold_for=0.0):
        pass  # the jump is in the stream itself

    def stop(self):
        self.stopping = True
        if self.thread:
            self.thread.join(5)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    """Live child pids of `pid` with their command lines."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            fields = stat[stat.rfind(")") + 2:].split()
            if int(fields[1]) != pid or fields[0] == "Z":
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            out.append((int(entry), cmd))
        except (OSError, ValueError, IndexError):
            continue
    return out


def descendants(pid):
    found = []
    for child, cmd in children(pid):
        found.append((child, cmd))
        found.extend(descendants(child))
    return found


class Restartable(threading.Thread):
    """Runs a command again whenever it ends, until stopped; `hold` delays the next start."""

    def __init__(self, name, make_cmd, on_line=None, restart_delay=1.0, stderr_path=None):
        super().__init__(daemon=True)
        self.stderr_path = stderr_path
        self.name_, self.make_cmd, self.on_line, self.restart_delay = name, make_cmd, on_line, restart_delay
        self.proc = None
        self.stopping = False
        self.hold_until = 0.0
        self.starts = 0
        self.lock = threading.Lock()

    def run(self):
        while not self.stopping:
            if time.monotonic() < self.hold_until:
                time.sleep(0.05)
                continue
            with self.lock:
                if self.stopping:
                    return
                err = open(self.stderr_path, "a") if self.stderr_path else subprocess.DEVNULL
                self.proc = subprocess.Popen(self.make_cmd(), stdout=subprocess.PIPE if self.on_line else subprocess.DEVNULL,
                                             stderr=err, text=True, bufsize=1)
                if self.stderr_path:
                    err.close()
                self.starts += 1
            if self.on_line:
                for line in self.proc.stdout:
                    self.on_line(line, self.starts)
            self.proc.wait()
            if not self.stopping:
                time.sleep(self.restart_delay)

    def kill(self, hold_for=0.0):
        with self.lock:
            self.hold_until = time.monotonic() + hold_for
            if self.proc and self.proc.poll() is None:
                self.proc.kill()

    def stop(self):
        self.stopping = True
        self.kill()
        self.join(10)


class Stack:
    def __init__(self, build_dir, repo=REPO, keep_sts=False, overrides=None):
        self.run_dir = tempfile.mkdtemp(prefix="livedub-faults-")
        self.rtmp_port, self.orch_port, self.sts_port = free_port(), free_port(), free_port()
        env = dict(os.environ)
        env.update({
            "LIVEDUB_BUILD_DIR": build_dir, "LIVEDUB_RUN_DIR": self.run_dir,
            "LIVEDUB_RTMP_PORT": str(self.rtmp_port), "LIVEDUB_ORCHESTRATOR_PORT": str(self.orch_port),
            "LIVEDUB_STS_PORT": str(self.sts_port), "LIVEDUB_STS_MODE": "mock-tone",
            "LIVEDUB_VAD": "off", "LIVEDUB_BED_MODE": "off", "LIVEDUB_LOG_LEVEL": "info",
            "LIVEDUB_OUTPUT_DELAY_MS": str(int(OUTPUT_DELAY * 1000)),
            "LIVEDUB_WORKER_STOP_GRACE_MS": "8000", "LIVEDUB_RECONCILE_MS": "1000",
        })
        for key, value in (overrides or {}).items():  # None: the stack's own default
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        if not keep_sts:
            env.pop("STS_SERVICE_URL", None)  # the stack starts its own
        self.log = open(os.path.join(self.run_dir, "stack.out"), "w")
        self.proc = subprocess.Popen(["/bin/bash", os.path.join(repo, "scripts/stack")], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with open(os.path.join(self.run_dir, "stack.out")) as f:
                if "stack is up" in f.read():
                    break
            if self.proc.poll() is not None:
                raise RuntimeError("the stack exited during start-up; see " + self.run_dir)
            time.sleep(0.2)
        else:
            raise RuntimeError("the stack did not start in 90 s; see " + self.run_dir)
        token_file = os.path.join(self.run_dir, "secrets", "orchestrator-token")
        self.token = open(token_file).read().strip() if os.path.exists(token_file) else ""  # older stacks had none

    def service_pid(self, marker):
        for pid, cmd in children(self.proc.pid):
            if marker in cmd:
                return pid
        return None

    def workers(self, stream_id):
        """Live stream workers of this run for `stream_id`, orphans included."""
        return [pid for pid in self.all_workers() if f"LIVEDUB_STREAM_ID={stream_id}" in _environ(pid).split("\0")]

    def all_workers(self):
        # Orphans are reparented away from the stack: look at every stream-worker of this run.
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = f.read()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read()
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if b"stream-worker" in cmd and f"LIVEDUB_RUN_DIR={self.run_dir}".encode() in env and state != "Z":
                found.append(int(entry))
        return found

    def streams(self):
        import urllib.request
        req = urllib.request.Request(f"http://127.0.0.1:{self.orch_port}/v1/streams",
                                     headers={"Authorization": "Bearer " + self.token})
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                return json.load(r)
        except Exception:
            return None

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def fallbacks(run_dir, stream_id):
    path = os.path.join(run_dir, "logs", f"worker-{stream_id}.log")
    try:
        with open(path) as f:
            return sum(1 for line in f if "falls back to original audio" in line)
    except OSError:
        return 0


def run_scenario(stack, fault, build_dir):
    stream_id = f"fault_{fault}"
    url_in = f"rtmp://127.0.0.1:{stack.rtmp_port}/live/{stream_id}/in"
    url_out = f"rtmp://127.0.0.1:{stack.rtmp_port}/live/{stream_id}/out"
    packets = []  # (arrival, connection, stream index, dts_ms)
    packets_lock = threading.Lock()

    def on_line(line, connection):
        # framecrc: "stream_index, dts, pts, duration, size, crc"; FLV's time base is 1 ms.
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6 or parts[0] not in ("0", "1") or not re.fullmatch(r"-?\d+", parts[1]):
            return
        with packets_lock:
            packets.append((time.monotonic(), connection, int(parts[0]), int(parts[1])))

    publisher = JumpingPublisher(stack, url_in, RUN_FOR) if fault == "jump" else Restartable("publisher", lambda: [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-f", "flv", url_in])
    viewer = Restartable("viewer", lambda: [
        "ffmpeg", "-hide_banner", "-loglevel", "warning", "-rw_timeout", "4000000", "-i", url_out,
        "-map", "0", "-c", "copy", "-f", "framecrc", "-flush_packets", "1", "-"], on_line=on_line, restart_delay=0.3,
        stderr_path=os.path.join(stack.run_dir, f"viewer-{stream_id}.log"))
    started = time.monotonic()
    publisher.start()
    time.sleep(2.0)
    viewer.start()
    max_workers = 0
    fault_time = None
    fault_note = ""
    while time.monotonic() - started < RUN_FOR:
        t = time.monotonic() - started
        max_workers = max(max_workers, len(stack.workers(stream_id)))
        if fault_time is None and t >= FAULT_AT:
            fault_time = time.monotonic()
            if fault == "sts":
                pid = stack.service_pid("apps/sts-service/sts-service")
                os.kill(pid, signal.SIGKILL)
            elif fault == "orchestrator":
                pid = stack.service_pid("apps/orchestrator/orchestrator")
                os.kill(pid, signal.SIGKILL)
            elif fault == "nginx":
                pid = stack.service_pid("nginx")
                os.kill(pid, signal.SIGKILL)
            elif fault == "worker":
                pids = stack.workers(stream_id)
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                fault_note = f"killed {len(pids)} worker(s)"
            elif fault == "publisher":
                publisher.kill(hold_for=5.0)
            elif fault == "jump":
                fault_note = f"input timestamps +{JUMP_MS // 1000} s from {FAULT_AT:.0f} s on"
        time.sleep(0.25)
    publisher.stop()
    # The worker drains its delayed output, then must be gone, and so must the entry.
    leftover_deadline = time.monotonic() + 20
    while time.monotonic() < leftover_deadline:
        entries = [s for s in (stack.streams() or [{"stream_id": stream_id}]) if s.get("stream_id") == stream_id]
        if not stack.workers(stream_id) and not entries:
            break
        time.sleep(0.5)
    viewer.stop()
    leftover_workers = stack.workers(stream_id)
    streams = stack.streams()
    leftover_entries = None if streams is None else [s for s in streams if s.get("stream_id") == stream_id]

    with packets_lock:
        data = list(packets)
    result = {"fault": fault, "note": fault_note, "packets": len(data), "viewer_connections": viewer.starts,
              "publisher_starts": publisher.starts, "max_workers": max_workers,
              "leftover_workers": len(leftover_workers),
              "leftover_entries": None if leftover_entries is None else len(leftover_entries),
              "fallback_fragments": fallbacks(stack.run_dir, stream_id)}
    # Gaps over the window in which output is expected: from the first packet to the fault + 20 s
    # (output that stops for good counts as a gap up to the window's end).
    window_end = fault_time + 20.0 if fault_time else (data[-1][0] if data else 0)
    arrivals = [p[0] for p in data if p[0] <= window_end] + [window_end]
    gaps = [(b - a, a, b) for a, b in zip(arrivals, arrivals[1:])]
    longest = max(gaps, default=(None, None, None))
    result["longest_gap_s"] = None if longest[0] is None else round(longest[0], 2)
    # Output back after the fault: the end of the stall the fault caused (none under a second).
    stalled = longest[0] is not None and fault_time is not None and longest[0] >= 1.0 and longest[2] > fault_time
    result["recovery_s"] = round(longest[2] - fault_time, 2) if stalled else None
    try:
        with open(os.path.join(stack.run_dir, f"viewer-{stream_id}.log")) as f:
            result["viewer_non_monotonic_warnings"] = sum(1 for line in f if "on-monoton" in line)
    except OSError:
        result["viewer_non_monotonic_warnings"] = None
    result["first_output_after_s"] = round(data[0][0] - started, 2) if data else None
    # Back and running: output in the last 5 s of the window (a stopping worker's drain is not it).
    result["output_after_fault"] = bool(fault_time and any(fault_time + 15 <= p[0] <= fault_time + 20 for p in data))
    if fault == "jump":
        with open(os.path.join(stack.run_dir, "logs", f"worker-{stream_id}.log"), errors="replace") as f:
            result["jumps_logged"] = sum(1 for line in f if "timestamps jumped" in line)
    return result


BAD_INPUTS = {
    # What a publisher may send that livedub cannot dub: refused once, with the reason shown.
    "audio_only": ["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-c:a", "aac"],
    "mpeg4": ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
              "-c:v", "mpeg4", "-c:a", "aac", "-strict", "-1"],
    "flv1": ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
             "-c:v", "flv1", "-c:a", "aac"],
}


def run_bad_input(stack, kind):
    stream_id = f"input_{kind}"
    url_in = f"rtmp://127.0.0.1:{stack.rtmp_port}/live/{stream_id}/in"
    publisher = Restartable("publisher", lambda: ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re"] +
                            BAD_INPUTS[kind] + ["-f", "flv", url_in])
    started = time.monotonic()
    publisher.start()
    status, refused_after = None, None
    while time.monotonic() - started < 30:
        entries = [e for e in (stack.streams() or []) if e.get("stream_id") == stream_id]
        if entries and entries[0].get("state") == "failed":
            status, refused_after = entries[0], round(time.monotonic() - started, 1)
            break
        time.sleep(0.5)
    time.sleep(4)  # restart backoffs would have run by now
    with open(os.path.join(stack.run_dir, "logs", "orchestrator.log")) as f:
        starts = sum(1 for line in f if f'"stream_id":"{stream_id}"' in line and "worker started" in line)
    entries = [e for e in (stack.streams() or []) if e.get("stream_id") == stream_id]
    still_failed = bool(entries) and entries[0].get("state") == "failed"
    publisher.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [e for e in (stack.streams() or []) if e.get("stream_id") == stream_id]:
        time.sleep(0.5)
    left = [e for e in (stack.streams() or []) if e.get("stream_id") == stream_id]
    return {"input": kind, "refused_after_s": refused_after, "reason": (status or {}).get("last_exit"),
            "worker_starts": starts, "still_refused": still_failed, "entry_left": bool(left)}


def fault_problems(result):
    fault = result["fault"]
    problems = []
    if not result["output_after_fault"]:
        problems.append("no output after the fault")
    if result["longest_gap_s"] is None or result["longest_gap_s"] > BOUNDS[fault]:
        problems.append(f"longest gap {result['longest_gap_s']} s > {BOUNDS[fault]} s")
    if fault == "jump" and not result.get("jumps_logged"):
        problems.append("the worker did not log the jump")
    if result["max_workers"] > 1:
        problems.append(f"{result['max_workers']} workers at once")
    if result["leftover_workers"] or result["leftover_entries"]:
        problems.append("left behind: " + json.dumps({k: result[k] for k in ("leftover_workers", "leftover_entries")}))
    # A viewer that stayed connected must see timestamps keep rising (ffmpeg warns
    # "Non-monotonic DTS" and rewrites them otherwise; players stall or drop).
    if fault in ("sts", "worker", "orchestrator", "jump") and result["viewer_non_monotonic_warnings"]:
        problems.append(f"{result['viewer_non_monotonic_warnings']} non-monotonic timestamp warnings on a connected viewer")
    return [f"{fault}: " + "; ".join(problems)] if problems else []


def input_problems(result):
    kind, reason = result["input"], result["reason"] or ""
    failures = []
    if result["refused_after_s"] is None or "unsupported input" not in reason:
        failures.append(f"{kind}: not refused with a reason within 30 s ({reason!r})")
    elif result["worker_starts"] != 1 or not result["still_refused"]:
        failures.append(f"{kind}: restarted ({result['worker_starts']} starts) instead of staying refused")
    if result["entry_left"]:
        failures.append(f"{kind}: its entry stayed after the publisher left")
    return failures


def _environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    parser.add_argument("--faults", default="sts,worker,orchestrator,nginx,publisher,jump")
    parser.add_argument("--inputs", default="audio_only,mpeg4,flv1", help="unsupported inputs to publish ('' for none)")
    parser.add_argument("--json")
    parser.add_argument("--assert", dest="check", action="store_true")
    parser.add_argument("--repo", default=REPO, help="checkout whose scripts/stack runs (to measure an older version)")
    args = parser.parse_args()
    for tool in ("ffmpeg", "nginx"):
        if not shutil.which(tool):
            print(f"fault_suite: {tool} is not installed", file=sys.stderr)
            return 2
    # Every client here (six publishers starting together, viewers reconnecting every 0.3 s)
    # comes from 127.0.0.1: rtmp-front's quota of connections per address that have not yet
    # published or played (a flood guard, the security suite's subject) is raised.
    stack = Stack(os.path.abspath(args.build_dir), os.path.abspath(args.repo),
                  overrides={"LIVEDUB_RTMP_MAX_PENDING_PER_ADDRESS": "64"})
    faults = [f for f in args.faults.split(",") if f]
    inputs = [k for k in args.inputs.split(",") if k]
    # A fault in a service every stream uses runs alone; the others touch their own stream id
    # only and run at once (three small test streams and three refused inputs: the suite takes
    # about half the time, and a 2-core host carries that load with room).
    alone = [("fault", f) for f in faults if f in SHARED_FAULTS]
    together = [("fault", f) for f in faults if f not in SHARED_FAULTS] + [("input", k) for k in inputs]
    results = {}
    print_lock = threading.Lock()

    def run_one(kind, name):
        try:
            result = run_scenario(stack, name, args.build_dir) if kind == "fault" else run_bad_input(stack, name)
        except Exception as e:  # one scenario's crash must not hide the others' results
            result = {kind: name, "error": repr(e)}
        with print_lock:
            results[(kind, name)] = result
            print(json.dumps(result), flush=True)

    failures = []
    try:
        for kind, name in alone:
            run_one(kind, name)
        threads = [threading.Thread(target=run_one, args=job) for job in together]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for job in alone + together:
            result = results[job]
            if "error" in result:
                failures.append(f"{job[1]}: the scenario raised {result['error']}")
            else:
                failures += (fault_problems if job[0] == "fault" else input_problems)(result)
    finally:
        stack.stop()
        leftovers = stack.all_workers()
        if leftovers:
            failures.append(f"stream workers still running after the stack stopped: {leftovers}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([results[job] for job in alone + together if job in results], f, indent=1)
    for failure in failures:
        print("FAIL " + failure, file=sys.stderr)
    if not failures:
        shutil.rmtree(stack.run_dir, ignore_errors=True)
    else:
        print("logs kept in " + stack.run_dir, file=sys.stderr)
    return 1 if (failures and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
