#!/usr/bin/env python3
"""PyTorch CPU reference timings for `npm run bench:ops -- --torch` (bench/ops.ts).

Times softmax (last axis), GELU (erf form) and RMSNorm (x·rsqrt(mean(x²)+eps)·w, the
composite used by HF Llama-style models; torch 1.13 has no fused rms_norm) on float32
[rows, cols] tensors with 1 and 2 threads, best of several batches, and prints JSON:
{"version": ..., "results": [{"op", "shape", "threads", "elemsPerSec", "ms"}]}.
Run with the system interpreter: /usr/bin/python3 bench/torch_ops.py (apt: python3-torch).
"""
import argparse
import json
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="4096x4096,2048x3072", help="comma-separated ROWSxCOLS list")
    a = ap.parse_args()
    torch.manual_seed(0)
    results = []
    with torch.no_grad():
        for shape in a.shapes.split(","):
            rows, cols = (int(v) for v in shape.split("x"))
            x = torch.rand(rows, cols, dtype=torch.float32) - 0.5
            w = torch.rand(cols, dtype=torch.float32) - 0.5
            out = torch.empty_like(x)
            n = x.numel()

            def rmsnorm():
                torch.mul(x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6), w, out=out)

            ops = {
                # out= variants so no output is allocated per call (as in ours)
                "softmax": lambda: torch._softmax(x, -1, False, out=out),
                "gelu": lambda: torch._C._nn.gelu(x, out=out),
                "rmsnorm": rmsnorm,
            }
            for threads in (1, 2):
                torch.set_num_threads(threads)
                for name, fn in ops.items():
                    s = best_time(fn)
                    results.append({"op": name, "shape": f"{rows}x{cols}", "threads": threads, "elemsPerSec": n / s, "ms": s * 1e3})
    print(json.dumps({"version": torch.__version__, "results": results}))


if __name__ == "__main__":
    main()
