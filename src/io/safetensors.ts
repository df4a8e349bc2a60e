/**
 * safetensors read/write (https://github.com/huggingface/safetensors format): 8-byte little-endian
 * header length N, N bytes of JSON header {name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {string: string}}, then the raw little-endian tensor bytes.
 * We write F32 (and F64 when asked); we read F32, F64, F16 and BF16 (converted to float32).
 * Writes are atomic. Reads validate the header and every offset, naming the file and tensor.
 */
import { readFileSync } from "node:fs";
import { Tensor } from "../tensor/tensor.js";
import { numel } from "../tensor/shape.js";
import { ChimeraError } from "../errors.js";
import { writeFileAtomic } from "./atomic.js";

const DTYPE_BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I32: 4, I64: 8 };

export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const bodies: Uint8Array[] = [];
  for (const [name, t] of [...tensors.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const d = t.dense();
    const bytes = new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
    header[name] = { dtype: t.dtype === "float64" ? "F64" : "F32", shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    bodies.push(bytes);
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += " "; // align data to 8 bytes
  const hbytes = Buffer.from(json, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hbytes.length));
  return [len, hbytes, ...bodies];
}

export function saveSafetensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export function parseSafetensors(buf: Uint8Array, file = "<buffer>"): SafetensorsFile {
  const bad = (why: string): never => {
    throw new ChimeraError(`${file}: not a valid safetensors file: ${why}`);
  };
  if (buf.length < 8) bad(`only ${buf.length} bytes`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > buf.length - 8) bad(`header length ${n} exceeds file size ${buf.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString("utf8")) as Record<string, unknown>;
  } catch (e) {
    return bad(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) bad("header is not an object");
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, Tensor>();
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const i = info as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const bytesPer = DTYPE_BYTES[i.dtype ?? ""];
    if (!bytesPer) bad(`tensor '${name}' has unsupported dtype ${JSON.stringify(i.dtype)}`);
    if (!Array.isArray(i.shape) || i.shape.some((d) => !Number.isInteger(d) || d < 0)) bad(`tensor '${name}' has invalid shape`);
    const [b, e] = i.data_offsets ?? [-1, -1];
    const count = numel(i.shape!);
    if (!(Number.isInteger(b) && Number.isInteger(e) && b >= 0 && e <= dataLen && e - b === count * bytesPer!))
      bad(`tensor '${name}' has data_offsets [${b}, ${e}] inconsistent with shape [${i.shape!.join(", ")}] ${i.dtype} and ${dataLen} data bytes`);
    const raw = buf.subarray(dataStart + b, dataStart + e);
    const copy = new Uint8Array(raw); // aligned copy
    let data: Float32Array | Float64Array;
    switch (i.dtype) {
      case "F32":
        data = new Float32Array(copy.buffer, 0, count);
        break;
      case "F64":
        data = new Float64Array(copy.buffer, 0, count);
        break;
      case "F16": {
        const u = new Uint16Array(copy.buffer, 0, count);
        data = new Float32Array(count);
        for (let k = 0; k < count; k++) data[k] = f16ToF32(u[k]!);
        break;
      }
      case "BF16": {
        const u = new Uint16Array(copy.buffer, 0, count);
        const u32 = new Uint32Array(count);
        for (let k = 0; k < count; k++) u32[k] = u[k]! << 16;
        data = new Float32Array(u32.buffer);
        break;
      }
      case "I32": {
        data = Float32Array.from(new Int32Array(copy.buffer, 0, count));
        break;
      }
      default: {
        data = Float32Array.from(new BigInt64Array(copy.buffer, 0, count), (x) => Number(x));
      }
    }
    tensors.set(name, new Tensor(data, i.shape!));
  }
  return { tensors, metadata };
}

export function loadSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new ChimeraError(`cannot read '${path}': ${(e as Error).message}`);
  }
  return parseSafetensors(buf, path);
}
