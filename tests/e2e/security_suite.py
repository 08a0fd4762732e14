#!/usr/bin/env python3
"""Attacks on the real native stack (scripts/stack), each expected to fail:

  forged hooks      start/stop hooks and API calls without the orchestrator's credential
  wrong publisher   publishing live/<id>/in without the publish password (LIVEDUB_PUBLISH_PASS)
  output hijack     publishing live/<id>/out while the worker runs, and while it restarts
  secrets           the orchestrator token, the publish/worker passwords and a third-party
                    destination's stream key (LIVEDUB_EXTRA_OUTPUT_URL) in any log
  wrong STS token   a worker whose LIVEDUB_STS_TOKEN the STS service refuses reports unhealthy
  RTMP port flood   1,100 idle connections from one address (127.0.0.2): viewers and new
                    publishers still get in, and the idle ones are closed within seconds
  over capacity     a third stream on a stack admitting two (LIVEDUB_MAX_STREAMS=2) is refused
                    with the reason in /v1/streams/<id>; the admitted ones are not disturbed

  tests/e2e/security_suite.py --build-dir build [--assert]
"""
import argparse
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_suite import Restartable, Stack, _environ, free_port  # noqa: E402

PUBLISH_PASS = "pub-secret-7f3a9c"
DESTINATION_KEY = "live2key-9d1e77"  # a third party's stream key: never in a log


def post(url, body, headers=None):
    req = urllib.request.Request(url, data=body.encode(), headers=headers or {}, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def publisher_cmd(url, size="320x240"):
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-c:v", "libx264", "-preset", "ultrafast",
            "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", url]


def probe_size(url):
    out = subprocess.run(["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-select_streams", "v", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0", url], capture_output=True, text=True, timeout=20)
    return out.stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--assert", dest="check", action="store_true")
    args = parser.parse_args()
    os.environ["LIVEDUB_MAX_STREAMS"] = "2"  # the capacity case below: victim and second fill it
    os.environ["LIVEDUB_PUBLISH_USER"] = "studio"
    os.environ["LIVEDUB_PUBLISH_PASS"] = PUBLISH_PASS
    # A third-party destination (ffmpeg as an RTMP server) the worker publishes to as well.
    destination_url = f"rtmp://127.0.0.1:{free_port()}/live2/{DESTINATION_KEY}"
    destination = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-listen", "1", "-i", destination_url,
                                    "-f", "null", "-"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["LIVEDUB_EXTRA_OUTPUT_URL"] = destination_url
    # An STS service that wants another token than the workers send.
    sts_port = free_port()
    sts = subprocess.Popen([os.path.join(os.path.abspath(args.build_dir), "apps/sts-service/sts-service")],
                           env=dict(os.environ, LIVEDUB_STS_HOST="127.0.0.1", LIVEDUB_STS_PORT=str(sts_port),
                                    LIVEDUB_STS_MODE="mock-tone", LIVEDUB_STS_TOKEN="the-right-sts-token"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["STS_SERVICE_URL"] = f"http://127.0.0.1:{sts_port}"
    os.environ["LIVEDUB_STS_TOKEN"] = "a-wrong-sts-token"
    stack = Stack(os.path.abspath(args.build_dir), keep_sts=True)
    results, failures = {}, []

    def check(name, ok, detail):
        results[name] = {"ok": ok, "detail": detail}
        print(json.dumps({name: results[name]}), flush=True)
        if not ok:
            failures.append(f"{name}: {detail}")

    base = f"rtmp://127.0.0.1:{stack.rtmp_port}/live/victim"
    hooks = f"http://127.0.0.1:{stack.orch_port}/v1/hooks/nginx"
    try:
        # A publisher without the password is refused; with it, the stream runs.
        bad = subprocess.run(publisher_cmd(base + "/in?user=studio&pass=guess")[:-1] + ["-t", "3", base + "/in?user=studio&pass=guess"],
                             capture_output=True, text=True, timeout=30)
        check("wrong_publish_password_refused", bad.returncode != 0 and not stack.workers("victim"),
              f"ffmpeg exit {bad.returncode}, workers {stack.workers('victim')}")
        publisher = Restartable("publisher", lambda: publisher_cmd(f"{base}/in?user=studio&pass={PUBLISH_PASS}"))
        publisher.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not stack.workers("victim"):
            time.sleep(0.2)
        worker = stack.workers("victim")
        check("right_publish_password_accepted", len(worker) == 1, f"workers {worker}")
        time.sleep(8)  # the dubbed output is up

        # The worker cannot authenticate to STS: its /healthz says so.
        health = None
        with open(os.path.join(stack.run_dir, "logs", "worker-victim.log")) as f:
            match = re.search(r"health and metrics on (http://127\.0\.0\.1:\d+)", f.read())
        if match:
            try:
                urllib.request.urlopen(match.group(1) + "/healthz", timeout=3)
                health = (200, "")
            except urllib.error.HTTPError as e:
                health = (e.code, e.read().decode(errors="replace"))
            except OSError as e:
                health = (None, str(e))
        check("wrong_sts_token_reported_unhealthy", bool(health) and health[0] == 503 and "LIVEDUB_STS_TOKEN" in health[1],
              f"worker /healthz: {health}")

        # Forged hooks and API calls: refused, the stream keeps running.
        statuses = [post(hooks, "call=publish_done&app=live&name=victim%2Fin"),
                    post(hooks + "?token=guessed-0123456789abcdef", "call=publish_done&app=live&name=victim%2Fin"),
                    post(f"http://127.0.0.1:{stack.orch_port}/v1/hooks/mediamtx/not-ready", '{"path":"live/victim/in"}')]
        forged_starts = [post(hooks, f"call=publish&app=live&name=forged{i}%2Fin") for i in range(20)]
        time.sleep(5)
        check("forged_hooks_refused",
              statuses == [401, 401, 401] and set(forged_starts) == {401} and stack.workers("victim") == worker
              and not any(stack.workers(f"forged{i}") for i in range(20)),
              f"stops {statuses}, 20 starts {sorted(set(forged_starts))}, victim workers {stack.workers('victim')}")

        # The RTMP port flooded with idle connections from one address (this used to lock out
        # every publisher, viewer and worker reconnect for as long as they were held).
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
        flood = []
        for _ in range(1100):
            conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            conn.bind(("127.0.0.2", 0))
            try:
                conn.connect(("127.0.0.1", stack.rtmp_port))
            except OSError:
                conn.close()
                continue
            flood.append(conn)
        flood_started = time.monotonic()
        viewer = probe_size(base + "/out")
        second = Restartable("second", lambda: publisher_cmd(f"rtmp://127.0.0.1:{stack.rtmp_port}/live/second/in"
                                                              f"?user=studio&pass={PUBLISH_PASS}"))
        second.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not stack.workers("second"):
            time.sleep(0.2)
        second_worker = stack.workers("second")

        # Over capacity: a third stream is refused with a reason; the two admitted keep running.
        third_url = f"rtmp://127.0.0.1:{stack.rtmp_port}/live/third/in?user=studio&pass={PUBLISH_PASS}"
        third = subprocess.run(publisher_cmd(third_url)[:-1] + ["-t", "4", third_url], capture_output=True, text=True, timeout=30)
        refusal = None
        try:
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{stack.orch_port}/v1/streams/third",
                                                          headers={"Authorization": "Bearer " + stack.token}), timeout=3)
        except urllib.error.HTTPError as e:
            refusal = (e.code, json.loads(e.read().decode(errors="replace")))
        admitted = {s["stream_id"]: s.get("restarts") for s in (stack.streams() or [])}
        check("over_capacity_refused_with_reason",
              third.returncode != 0 and not stack.workers("third") and refusal is not None and refusal[0] == 404
              and refusal[1]["error"].get("code") == "refused_stream" and "LIVEDUB_MAX_STREAMS" in refusal[1]["error"].get("message", "")
              and admitted == {"victim": 0, "second": 0},
              f"third publisher exit {third.returncode}, workers {stack.workers('third')}; /v1/streams/third {refusal}; "
              f"admitted streams and their restarts {admitted}")
        time.sleep(max(0.0, flood_started + 7 - time.monotonic()))  # past LIVEDUB_RTMP_HANDSHAKE_TIMEOUT_MS
        still_open = 0
        for conn in flood:
            conn.setblocking(False)
            try:
                still_open += 1 if conn.recv(1) else 0  # b"": closed by the front
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
            conn.close()
        second.stop()
        with open(os.path.join(stack.run_dir, "logs", "nginx.log"), errors="replace") as f:
            nginx_short = "worker_connections are not enough" in f.read()
        check("rtmp_port_flood_survived",
              viewer == "320,240" and len(second_worker) == 1 and still_open == 0 and not nginx_short,
              f"{len(flood)} idle connections from 127.0.0.2; a viewer saw {viewer!r}; a new publisher got "
              f"workers {second_worker}; {still_open} idle ones still open after 7 s; nginx short of connections: {nginx_short}")

        # Output hijack while the worker runs, then while it restarts.
        hijack = subprocess.run(publisher_cmd(base + "/out", "160x120")[:-1] + ["-t", "4", base + "/out"],
                                capture_output=True, text=True, timeout=30)
        check("output_hijack_refused_while_running", hijack.returncode != 0, f"attacker ffmpeg exit {hijack.returncode}")
        attacker = Restartable("attacker", lambda: publisher_cmd(base + "/out?user=livedub-worker&pass=guess", "160x120"),
                               restart_delay=0.05)
        for pid in stack.workers("victim"):
            os.kill(pid, signal.SIGKILL)
        attacker.start()
        time.sleep(10)
        attacker.stop()
        size = probe_size(base + "/out")
        check("output_hijack_refused_during_restart", size == "320,240" and attacker.starts > 3,
              f"viewers see {size!r} (the victim's 320x240, not the attacker's 160x120); attacker tried {attacker.starts} times")

        # Secrets in logs: the orchestrator token, the publish password, the workers' password.
        worker_pass = ""
        for pid in stack.workers("victim"):
            for item in _environ(pid).split("\0"):
                if item.startswith("LIVEDUB_OUTPUT_URL=") and "pass=" in item:
                    worker_pass = item.split("pass=", 1)[1].split("&")[0]
        publisher.stop()
        secrets = {"orchestrator token": stack.token, "publish password": PUBLISH_PASS, "worker password": worker_pass,
                   "destination stream key": DESTINATION_KEY, "STS token": "a-wrong-sts-token"}
        found = []
        destination_logged = False  # the redacted destination: proves the key had its chance to leak
        for root, _, files in os.walk(stack.run_dir):
            if os.path.basename(root) in ("secrets", "nginx"):
                continue  # the secrets themselves and nginx's config (mode 600) hold them by design
            for name in files:
                with open(os.path.join(root, name), errors="replace") as f:
                    text = f.read()
                destination_logged = destination_logged or "live2/***" in text
                found += [f"{what} in {os.path.relpath(os.path.join(root, name), stack.run_dir)}"
                          for what, value in secrets.items() if value and value in text]
        check("no_secrets_in_logs", bool(worker_pass) and destination_logged and not found,
              f"found {found}; worker password known: {bool(worker_pass)}; destination logged redacted: {destination_logged}")
    finally:
        stack.stop()
        for helper in (sts, destination):
            helper.terminate()
            helper.wait(20)
    print("logs kept in " + stack.run_dir if failures else "all attacks refused", file=sys.stderr)
    for failure in failures:
        print("FAIL " + failure, file=sys.stderr)
    return 1 if (failures and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
