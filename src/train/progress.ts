/** The live progress line: step, loss, lr, tokens/s, ETA — redrawn in place on a terminal. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return "?";
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export interface ProgressFields {
  step: number;
  totalSteps: number | null;
  loss: number;
  lr: number;
  tokensPerSec: number;
  etaSec: number;
  extra?: string;
}

export function progressLine(f: ProgressFields): string {
  const steps = f.totalSteps ? `${f.step}/${f.totalSteps}` : `${f.step}`;
  return `step ${steps} | loss ${f.loss.toFixed(4)} | lr ${f.lr.toExponential(2)} | ${formatCount(f.tokensPerSec)} tok/s | ETA ${formatDuration(f.etaSec)}${f.extra ? ` | ${f.extra}` : ""}`;
}

export class Progress {
  private lastLen = 0;
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {}
  get interactive(): boolean {
    return !!this.stream.isTTY;
  }
  /** Redraws the line on a terminal; elsewhere prints it when `persist`. */
  update(line: string, persist = false): void {
    if (this.quiet) return;
    if (this.interactive) {
      const pad = this.lastLen > line.length ? " ".repeat(this.lastLen - line.length) : "";
      this.stream.write(`\r${line}${pad}${persist ? "\n" : ""}`);
      this.lastLen = persist ? 0 : line.length;
    } else if (persist) this.stream.write(line + "\n");
  }
  log(msg: string): void {
    if (this.quiet) return;
    if (this.interactive && this.lastLen) {
      this.stream.write("\n");
      this.lastLen = 0;
    }
    this.stream.write(msg + "\n");
  }
}
