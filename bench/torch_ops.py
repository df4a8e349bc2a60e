#!/usr/bin/env python3
"""PyTorch CPU reference timings for `npm run bench:ops -- --torch` (bench/ops.ts).

Times softmax (last axis), GELU (erf form) and RMSNorm (x·rsqrt(mean(x²)+eps)·w, the
composite used by HF Llama-style models; torch 1.13 has no fused rms_norm) on float32
[rows, cols] tensors, best of several batches. softmax and GELU write into a preallocated
output (out=), as ours do.

  /usr/bin/python3 bench/torch_ops.py --shapes 4096x4096,2048x3072
      one pass over every op, shape and thread count (1, 2); prints one JSON document
  /usr/bin/python3 bench/torch_ops.py --serve --shapes ...
      reads "op shape threads" lines on stdin and answers each with one JSON line, so the
      benchmark can interleave our timings with torch's (fair under fluctuating machine load)

Needs the system interpreter's torch (Debian: apt-get install -y python3-torch).
"""
import argparse
import json
import sys
import time

import torch


def best_time(fn, min_sec=0.25, batches=5):
    fn()
    best = float("inf")
    for _ in range(batches):
        reps = 0
        t0 = time.perf_counter()
        while True:
            fn()
            reps += 1
            dt = time.perf_counter() - t0
            if dt >= min_sec:
                break
        best = min(best, dt / reps)
    return best


def make_ops(rows, cols):
    x = torch.rand(rows, cols, dtype=torch.float32) - 0.5
    w = torch.rand(cols, dtype=torch.float32) - 0.5
    out = torch.empty_like(x)

    def rmsnorm():
        torch.mul(x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6), w, out=out)

    return x.numel(), {
        "softmax": lambda: torch._softmax(x, -1, False, out=out),
        "gelu": lambda: torch._C._nn.gelu(x, out=out),
        "rmsnorm": rmsnorm,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="4096x4096,2048x3072", help="comma-separated ROWSxCOLS list")
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--min-sec", type=float, default=0.25)
    ap.add_argument("--batches", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(0)
    shapes = {}
    for shape in a.shapes.split(","):
        rows, cols = (int(v) for v in shape.split("x"))
        shapes[f"{rows}x{cols}"] = make_ops(rows, cols)
    with torch.no_grad():
        if a.serve:
            print(json.dumps({"version": torch.__version__, "ready": True}), flush=True)
            for line in sys.stdin:
                parts = line.split()
                if len(parts) != 3:
                    continue
                op, shape, threads = parts[0], parts[1], int(parts[2])
                torch.set_num_threads(threads)
                n, ops = shapes[shape]
                s = best_time(ops[op], a.min_sec, a.batches)
                print(json.dumps({"op": op, "shape": shape, "threads": threads, "elemsPerSec": n / s, "ms": s * 1e3}), flush=True)
            return
        results = []
        for shape, (n, ops) in shapes.items():
            for threads in (1, 2):
                torch.set_num_threads(threads)
                for name, fn in ops.items():
                    s = best_time(fn, a.min_sec, a.batches)
                    results.append({"op": name, "shape": shape, "threads": threads, "elemsPerSec": n / s, "ms": s * 1e3})
        print(json.dumps({"version": torch.__version__, "results": results}))


if __name__ == "__main__":
    main()
