# The Python baseline: multiprocessing.Pool with as many processes as tsmpi has
# workers, map with its default chunksize and with chunksize 1. One JSON row per case.
#   python3 bench/pool/mp_pool.py WORKERS [--quick]
import json, sys, time
from multiprocessing import Pool

def empty(x):
    return x

def busy1ms(x):
    end = time.perf_counter() + 0.001
    while time.perf_counter() < end:
        pass
    return x

if __name__ == "__main__":
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    quick = "--quick" in sys.argv
    with Pool(workers) as pool:
        for fn, n in ((empty, 2000 if quick else 100_000), (busy1ms, 300 if quick else 3000)):
            for chunksize in (None, 1):
                pool.map(fn, range(min(n, 500)), chunksize)
                t = time.perf_counter()
                pool.map(fn, range(n), chunksize)
                s = time.perf_counter() - t
                print(json.dumps({"stack": "multiprocessing", "task": fn.__name__, "chunksize": chunksize or "default", "workers": workers, "tasksPerSecond": n / s}))
