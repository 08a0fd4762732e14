"""Shared by the GPU timing scripts: runs a piece of work from several threads at once."""
import threading
import time


def timed_concurrently(work, concurrency, repeats):
    """Runs work(thread_index) `repeats` times on each of `concurrency` threads; returns the
    sorted per-call times (ms) and the wall-clock seconds the whole run took."""
    times, lock = [], threading.Lock()

    def worker(index):
        for _ in range(repeats):
            started = time.perf_counter()
            work(index)
            with lock:
                times.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(times), time.perf_counter() - began


def percentile(sorted_times, fraction):
    return sorted_times[min(len(sorted_times) - 1, int(len(sorted_times) * fraction))]
