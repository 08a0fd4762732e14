#!/usr/bin/env python3
"""rtmp-front under the two abuses measured in the overload issue, with its default limits:

  idle flood     1,100 idle TCP connections from one address (127.0.0.2) held for 12 s: how many
                 the front keeps, how long it keeps them, whether a client from another
                 address still reaches the media server meanwhile
  chunk streams  4 connections, each opening 60 chunk streams with the first 1 MiB of a 4 MB
                 message on every one (60 MiB a connection): the front's peak RSS and whether it
                 closes them

The media server is a sink that accepts and discards. Prints one line per case.

  bench/rtmp_front_abuse.py --build-dir build
"""
import argparse
import os
import resource
import socket
import subprocess
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sink(port, accepted):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(512)

    def drain(conn):
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass

    while True:
        conn, _ = server.accept()
        accepted.append(conn)
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def closed(conn):
    conn.setblocking(False)
    try:
        return conn.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default="build")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    upstream, front_port = free_port(), free_port()
    accepted = []
    threading.Thread(target=sink, args=(upstream, accepted), daemon=True).start()
    def start_front():
        proc = subprocess.Popen([os.path.join(args.build_dir, "apps/rtmp-front/rtmp-front")],
                                env=dict(os.environ, LIVEDUB_RTMP_PORT=str(front_port), LIVEDUB_RTMP_INTERNAL_PORT=str(upstream),
                                         LIVEDUB_LOG_LEVEL=os.environ.get("LIVEDUB_LOG_LEVEL", "error")))
        time.sleep(0.5)
        return proc

    front = start_front()
    try:
        # Idle flood.
        flood = []
        for _ in range(1100):
            c = socket.socket()
            c.bind(("127.0.0.2", 0))
            try:
                c.connect(("127.0.0.1", front_port))
                flood.append(c)
            except OSError:
                c.close()
        time.sleep(0.3)
        kept = sum(1 for c in flood if not closed(c))
        legit = socket.create_connection(("127.0.0.1", front_port))
        legit.sendall(b"\x03" + bytes(1536))  # C0 + C1: enough to be dialled through
        time.sleep(0.5)
        reached = len(accepted)
        started = time.monotonic()
        rss = rss_mb(front.pid)
        open_left = len(flood)
        while time.monotonic() - started < 12 and open_left:
            time.sleep(0.2)
            open_left = sum(1 for c in flood if not closed(c))
        waited = time.monotonic() - started + 0.3
        print(f"idle flood: {len(flood)} connected, {kept} kept after 0.3 s, {open_left} still open after {waited:.1f} s; "
              f"media server connections dialled: {reached} (1 is the client from another address); front RSS {rss:.0f} MB")
        for c in flood + [legit]:
            c.close()
        front.terminate()
        front.wait(10)
        front = start_front()

        # Partial messages on 100 chunk streams, 4 connections.
        base = rss_mb(front.pid)
        peak, conns, refused = base, [], 0
        chunk = bytes(65536)
        set_chunk = bytes([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0]) + (65536).to_bytes(4, "big")
        for _ in range(4):
            c = socket.create_connection(("127.0.0.1", front_port))
            c.sendall(b"\x03" + bytes(1536) + bytes(1536) + set_chunk)
            conns.append(c)
        for csid in range(3, 63):  # one-byte chunk stream ids (3-63)
            for c in conns:
                # The first 1 MiB (sixteen 64 KiB chunks) of a 4 MB message: 60 MiB per connection.
                header = bytes([csid, 0, 0, 0]) + (4_000_000).to_bytes(3, "big") + bytes([9, 1, 0, 0, 0])
                try:
                    c.sendall(header + chunk + b"".join(bytes([0xC0 | csid]) + chunk for _ in range(15)))
                except OSError:
                    pass
            peak = max(peak, rss_mb(front.pid))
        for _ in range(10):
            time.sleep(0.2)
            peak = max(peak, rss_mb(front.pid))
        refused = sum(1 for c in conns if closed(c))
        print(f"chunk streams: 4 connections x 60 partial 4 MB messages (60 MiB each): front RSS {base:.0f} -> peak {peak:.0f} MB; "
              f"{refused} of 4 connections closed at the bound; alive: {front.poll() is None}")
    finally:
        front.terminate()
        front.wait(10)


if __name__ == "__main__":
    main()
