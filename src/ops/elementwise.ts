/**
 * Elementwise ops: broadcasting binary arithmetic (add, sub, mul, div, pow, maximum, minimum,
 * comparisons), unary math (exp, log, tanh, sigmoid, silu, gelu, …), where, and scalar helpers.
 */
import { Tensor } from "../tensor/tensor.js";
import { broadcastShapes, broadcastStrides, contiguousStrides, sameShape, shapeStr } from "../tensor/shape.js";
import { allocArray } from "../tensor/dtype.js";
import { freeArray } from "../tensor/pool.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import type { BinaryOp, UnaryOp } from "../backend/kernels.js";
import { checkInputs, empty, K, uninit } from "./util.js";
import { sumToShape } from "./reduce.js";

export type Operand = Tensor | number;

function asTensor(v: Operand, like: Tensor): Tensor {
  if (typeof v !== "number") return v;
  const d = allocArray(like.dtype, 1);
  d[0] = v;
  return new Tensor(d, []);
}

/** Raw broadcast binary kernel call (no autograd). */
function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const shape = sameShape(a.shape, b.shape) ? a.shape.slice() : broadcastShapes(op, a.shape, b.shape);
  const out = uninit(shape, a.dtype); // the binary kernel writes every element
  const ad = a.dense();
  const bd = b.dense();
  K(a).binary(op, ad, broadcastStrides(a.shape, contiguousStrides(a.shape), shape), bd, broadcastStrides(b.shape, contiguousStrides(b.shape), shape), out.data, shape);
  freeArray(ad); // dense() copies (an input's own storage is left alone)
  freeArray(bd);
  return out;
}

/** a ⊙ b with NumPy broadcasting; numbers are scalars. */
export function binaryOp(op: BinaryOp, a: Operand, b: Operand): Tensor {
  if (typeof a === "number" && typeof b === "number") throw new OpError(op, "needs at least one tensor operand");
  const ta = typeof a === "number" ? asTensor(a, b as Tensor) : a;
  const tb = asTensor(b, ta);
  checkInputs(op, ta, tb);
  const out = binaryRaw(op, ta, tb);
  record(op, [ta, tb], [out], ([g]) => binaryBackward(op, ta, tb, out, g!));
  return out;
}

function binaryBackward(op: BinaryOp, a: Tensor, b: Tensor, out: Tensor, g: Tensor): (Tensor | null)[] {
  const ga = a.requiresGrad;
  const gb = b.requiresGrad;
  switch (op) {
    case "add":
      return [ga ? sumToShape(g, a.shape) : null, gb ? sumToShape(g, b.shape) : null];
    case "sub":
      return [ga ? sumToShape(g, a.shape) : null, gb ? sumToShape(neg(g), b.shape) : null];
    case "mul":
      return [ga ? sumToShape(mul(g, b), a.shape) : null, gb ? sumToShape(mul(g, a), b.shape) : null];
    case "div": {
      const gOverB = div(g, b);
      return [ga ? sumToShape(gOverB, a.shape) : null, gb ? sumToShape(neg(mul(gOverB, out)), b.shape) : null];
    }
    case "pow": {
      // d/da a^b = b·a^(b−1); d/db a^b = a^b·ln a
      const dA = ga ? sumToShape(mul(g, mul(b, binaryOp("pow", a, sub(b, 1)))), a.shape) : null;
      const dB = gb ? sumToShape(mul(g, mul(out, unaryOp("log", a))), b.shape) : null;
      return [dA, dB];
    }
    case "max":
    case "min": {
      // to the operand that was selected; ties split equally
      const eqA = binaryRaw("eq", a, out);
      const eqB = binaryRaw("eq", b, out);
      const both = binaryRaw("mul", eqA, eqB);
      const share = binaryRaw("sub", binaryRaw("add", eqA, eqB), both); // 1 or 2 where selected
      const wA = binaryRaw("div", binaryRaw("mul", eqA, share), binaryRaw("mul", share, share));
      const wB = binaryRaw("div", binaryRaw("mul", eqB, share), binaryRaw("mul", share, share));
      clearNaN(wA);
      clearNaN(wB);
      return [ga ? sumToShape(mul(g, wA), a.shape) : null, gb ? sumToShape(mul(g, wB), b.shape) : null];
    }
    default:
      return [null, null];
  }
}

function clearNaN(t: Tensor): void {
  const d = t.data;
  for (let i = 0; i < d.length; i++) if (d[i] !== d[i]) d[i] = 0;
}

export const add = (a: Operand, b: Operand): Tensor => binaryOp("add", a, b);
export const sub = (a: Operand, b: Operand): Tensor => binaryOp("sub", a, b);
export const mul = (a: Operand, b: Operand): Tensor => binaryOp("mul", a, b);
export const div = (a: Operand, b: Operand): Tensor => binaryOp("div", a, b);
export const pow = (a: Operand, b: Operand): Tensor => binaryOp("pow", a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binaryOp("max", a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binaryOp("min", a, b);
export const gt = (a: Operand, b: Operand): Tensor => binaryOp("gt", a, b);
export const lt = (a: Operand, b: Operand): Tensor => binaryOp("lt", a, b);
export const ge = (a: Operand, b: Operand): Tensor => binaryOp("ge", a, b);
export const le = (a: Operand, b: Operand): Tensor => binaryOp("le", a, b);
export const eq = (a: Operand, b: Operand): Tensor => binaryOp("eq", a, b);

/** f(x) elementwise, with its derivative for backward. */
export function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  x.check(op);
  const xd = x.dense();
  const out = uninit(x.shape, x.dtype);
  K(x).unary(op, xd, out.data, x.size);
  record(op, [x], [out], ([g]) => {
    const gx = uninit(x.shape, x.dtype);
    K(x).unaryBackward(op, xd, out.data, g!.dense(), gx.data, x.size);
    return [gx];
  }, { saved: [xd] });
  return out;
}

export const neg = (x: Tensor): Tensor => unaryOp("neg", x);
export const abs = (x: Tensor): Tensor => unaryOp("abs", x);
export const exp = (x: Tensor): Tensor => unaryOp("exp", x);
export const log = (x: Tensor): Tensor => unaryOp("log", x);
export const sqrt = (x: Tensor): Tensor => unaryOp("sqrt", x);
export const rsqrt = (x: Tensor): Tensor => unaryOp("rsqrt", x);
export const square = (x: Tensor): Tensor => unaryOp("square", x);
export const reciprocal = (x: Tensor): Tensor => unaryOp("recip", x);
export const tanh = (x: Tensor): Tensor => unaryOp("tanh", x);
export const sigmoid = (x: Tensor): Tensor => unaryOp("sigmoid", x);
export const relu = (x: Tensor): Tensor => unaryOp("relu", x);
export const silu = (x: Tensor): Tensor => unaryOp("silu", x);
export const softplus = (x: Tensor): Tensor => unaryOp("softplus", x);
export const sin = (x: Tensor): Tensor => unaryOp("sin", x);
export const cos = (x: Tensor): Tensor => unaryOp("cos", x);
/** GELU: exact (erf) by default, or the tanh approximation. */
export const gelu = (x: Tensor, approximate: "none" | "tanh" = "none"): Tensor => unaryOp(approximate === "tanh" ? "gelu_tanh" : "gelu", x);

/** x·alpha + shift in one pass (grad: g·alpha). */
export function affine(x: Tensor, alpha: number, shift = 0): Tensor {
  x.check("affine");
  const out = uninit(x.shape, x.dtype);
  K(x).affine(x.dense(), out.data, x.size, alpha, shift);
  record("affine", [x], [out], ([g]) => {
    const gx = uninit(x.shape, x.dtype);
    K(x).affine(g!.dense(), gx.data, x.size, alpha, 0);
    return [gx];
  });
  return out;
}

/** cond ? a : b, broadcasting all three. cond is a 0/1 tensor (no grad through it). */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const ta = typeof a === "number" ? asTensor(a, cond) : a;
  const tb = asTensor(b, ta);
  checkInputs("where", cond, ta, tb);
  const shape = broadcastShapes("where", broadcastShapes("where", cond.shape, ta.shape), tb.shape);
  const ex = (t: Tensor): Tensor => {
    if (sameShape(t.shape, shape)) return t;
    const o = empty(shape, t.dtype);
    K(t).copyStrided(t.dense(), 0, shape, broadcastStrides(t.shape, contiguousStrides(t.shape), shape), o.data);
    return o;
  };
  const c = ex(cond);
  const out = empty(shape, ta.dtype);
  K(ta).where(c.data, ex(ta).dense(), ex(tb).dense(), out.data, out.size);
  record("where", [cond, ta, tb], [out], ([g]) => {
    const zero = empty(shape, g!.dtype);
    const gd = g!.dense();
    const gA = empty(shape, g!.dtype);
    const gB = empty(shape, g!.dtype);
    K(ta).where(c.data, gd, zero.data, gA.data, out.size);
    K(ta).where(c.data, zero.data, gd, gB.data, out.size);
    return [null, ta.requiresGrad ? sumToShape(gA, ta.shape) : null, tb.requiresGrad ? sumToShape(gB, tb.shape) : null];
  });
  return out;
}

/** Adds b into a's storage in place (a must be contiguous and not need grad). Used for accumulators. */
export function addInPlace_(a: Tensor, b: Tensor, alpha = 1): void {
  a.check("addInPlace_");
  b.check("addInPlace_");
  if (!sameShape(a.shape, b.shape)) throw new OpError("addInPlace_", `shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
  if (!a.isContiguous()) throw new OpError("addInPlace_", "target must be contiguous");
  K(a).axpy(a.size, alpha, b.dense(), a.offset === 0 ? a.data : a.data.subarray(a.offset));
}
