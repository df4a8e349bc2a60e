/**
 * metrics.jsonl: one JSON object per line — training lines {step, loss, lr, tokensPerSec,
 * elapsedSec, gradNorm, …}, validation lines {step, valLoss, valBpb, valPpl}, and expert-load
 * lines {step, expertLoad: {layer: counts}}. On resume, lines past the resumed step are dropped
 * so the file reads as one uninterrupted run.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../io/atomic.js";

export class MetricsLog {
  constructor(readonly path: string) {}

  append(rec: Record<string, unknown>): void {
    appendFileSync(this.path, JSON.stringify(rec) + "\n");
  }

  /** Keeps only records with step ≤ `step` (drops a torn last line too). */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const keep: string[] = [];
    for (const line of readFileSync(this.path, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as { step?: number };
        if ((r.step ?? 0) <= step) keep.push(line);
      } catch {
        /* torn line from a crash */
      }
    }
    writeFileAtomic(this.path, keep.length ? keep.join("\n") + "\n" : "");
  }
}

export function readMetrics(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* skip torn line */
    }
  }
  return out;
}
