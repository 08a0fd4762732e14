#!/usr/bin/env python3
"""Benchmark (not a test): how long a fresh request takes while N clients dribble.

Opens N connections to a livedub HTTP service, each sending its request headers (or, with
--body, a POST body) one byte per second, plus N idle connections; then times fresh GETs of
--path every 0.5 s for --seconds. Prints the worst and median latency and how many did not
answer within --timeout.
  bench/slow_clients.py --url http://127.0.0.1:8000 --clients 200 --path /healthz
"""
import argparse, socket, statistics, threading, time, urllib.parse, http.client

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--clients", type=int, default=200)
p.add_argument("--path", default="/healthz")
p.add_argument("--body", action="store_true", help="dribble a POST body instead of headers")
p.add_argument("--seconds", type=float, default=15)
p.add_argument("--timeout", type=float, default=10)
a = p.parse_args()
u = urllib.parse.urlparse(a.url)
stop = time.time() + a.seconds + 2
socks = []

def dribble(kind):
    try:
        s = socket.create_connection((u.hostname, u.port), timeout=5)
        socks.append(s)
        if kind == "idle":
            return
        head = (b"POST /v1/hooks/nginx HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" if kind == "body"
                else b"GET /healthz HTTP/1.1\r\n")
        if kind == "body":
            s.sendall(head)
        while time.time() < stop:
            s.sendall(b"a" if kind == "body" else b"X")
            time.sleep(1)
    except OSError:
        pass

threads = [threading.Thread(target=dribble, args=("body" if a.body else "header",), daemon=True) for _ in range(a.clients)]
threads += [threading.Thread(target=dribble, args=("idle",), daemon=True) for _ in range(a.clients)]
for t in threads:
    t.start()
time.sleep(1.5)
lat, fails = [], 0
end = time.time() + a.seconds
while time.time() < end:
    t0 = time.time()
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=a.timeout)
        c.request("GET", a.path)
        c.getresponse().read()
        lat.append(time.time() - t0)
    except OSError:
        fails += 1
        lat.append(time.time() - t0)
    time.sleep(0.5)
print(f"{a.clients} slow-{'body' if a.body else 'header'} + {a.clients} idle clients: {a.path} "
      f"median {statistics.median(lat)*1000:.0f} ms, worst {max(lat)*1000:.0f} ms, "
      f"{fails} of {len(lat)} unanswered within {a.timeout:.0f} s")
