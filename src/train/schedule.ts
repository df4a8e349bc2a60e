/**
 * Learning-rate schedules: linear warm-up to the peak, then cosine or linear decay to `minLr`
 * at `totalSteps` (constant afterwards), or constant. Step numbers are 1-based update counts.
 */
export type ScheduleKind = "cosine" | "linear" | "constant";

export interface ScheduleOptions {
  kind: ScheduleKind;
  peakLr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
}

export function lrAt(step: number, o: ScheduleOptions): number {
  if (o.warmupSteps > 0 && step <= o.warmupSteps) return (o.peakLr * step) / o.warmupSteps;
  if (o.kind === "constant") return o.peakLr;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const t = Math.min(1, Math.max(0, (step - o.warmupSteps) / span));
  const f = o.kind === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * t)) : 1 - t;
  return o.minLr + (o.peakLr - o.minLr) * f;
}
