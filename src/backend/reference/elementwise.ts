/** Reference elementwise kernels: unary functions and their derivatives, broadcasting binary ops, copies. */
import type { Arr } from "../../tensor/dtype.js";
import type { BinaryOp, UnaryOp } from "../kernels.js";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT2 = 1 / Math.SQRT2;

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc Chebyshev fit), enough for float32 GELU. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
        t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

function softplus(x: number): number {
  return x > 20 ? x : x < -20 ? Math.exp(x) : Math.log1p(Math.exp(x));
}
function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export function unaryFn(op: UnaryOp): (x: number) => number {
  switch (op) {
    case "neg": return (x) => -x;
    case "abs": return Math.abs;
    case "exp": return Math.exp;
    case "log": return Math.log;
    case "sqrt": return Math.sqrt;
    case "rsqrt": return (x) => 1 / Math.sqrt(x);
    case "square": return (x) => x * x;
    case "recip": return (x) => 1 / x;
    case "tanh": return Math.tanh;
    case "sigmoid": return sigmoid;
    case "relu": return (x) => (x > 0 ? x : 0);
    case "silu": return (x) => x * sigmoid(x);
    case "gelu": return (x) => 0.5 * x * (1 + erf(x * INV_SQRT2));
    case "gelu_tanh": return (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case "softplus": return softplus;
    case "sin": return Math.sin;
    case "cos": return Math.cos;
  }
}

/** f'(x) given x and y = f(x). */
export function unaryDeriv(op: UnaryOp): (x: number, y: number) => number {
  switch (op) {
    case "neg": return () => -1;
    case "abs": return (x) => (x > 0 ? 1 : x < 0 ? -1 : 0);
    case "exp": return (_x, y) => y;
    case "log": return (x) => 1 / x;
    case "sqrt": return (_x, y) => 0.5 / y;
    case "rsqrt": return (_x, y) => -0.5 * y * y * y;
    case "square": return (x) => 2 * x;
    case "recip": return (_x, y) => -y * y;
    case "tanh": return (_x, y) => 1 - y * y;
    case "sigmoid": return (_x, y) => y * (1 - y);
    case "relu": return (x) => (x > 0 ? 1 : 0);
    case "silu": return (x) => {
      const s = sigmoid(x);
      return s * (1 + x * (1 - s));
    };
    case "gelu": return (x) => 0.5 * (1 + erf(x * INV_SQRT2)) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    case "gelu_tanh": return (x) => {
      const u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
      const th = Math.tanh(u);
      return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    };
    case "softplus": return (x) => sigmoid(x);
    case "sin": return Math.cos;
    case "cos": return (x) => -Math.sin(x);
  }
}

export function unary(op: UnaryOp, x: Arr, out: Arr, n: number): void {
  const f = unaryFn(op);
  for (let i = 0; i < n; i++) out[i] = f(x[i]!);
}

export function unaryBackward(op: UnaryOp, x: Arr, y: Arr, gy: Arr, gx: Arr, n: number): void {
  const d = unaryDeriv(op);
  for (let i = 0; i < n; i++) gx[i] = gy[i]! * d(x[i]!, y[i]!);
}

export function binaryFn(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case "add": return (a, b) => a + b;
    case "sub": return (a, b) => a - b;
    case "mul": return (a, b) => a * b;
    case "div": return (a, b) => a / b;
    case "pow": return Math.pow;
    // NaN propagates, as in torch.maximum / torch.minimum
    case "max": return (a, b) => (a !== a || b !== b ? NaN : a >= b ? a : b);
    case "min": return (a, b) => (a !== a || b !== b ? NaN : a <= b ? a : b);
    case "gt": return (a, b) => (a > b ? 1 : 0);
    case "lt": return (a, b) => (a < b ? 1 : 0);
    case "ge": return (a, b) => (a >= b ? 1 : 0);
    case "le": return (a, b) => (a <= b ? 1 : 0);
    case "eq": return (a, b) => (a === b ? 1 : 0);
  }
}

export function binary(op: BinaryOp, a: Arr, aStrides: readonly number[], b: Arr, bStrides: readonly number[], out: Arr, outShape: readonly number[]): void {
  const f = binaryFn(op);
  const rank = outShape.length;
  let n = 1;
  for (const d of outShape) n *= d;
  if (n === 0) return;
  if (rank === 0) {
    out[0] = f(a[0]!, b[0]!);
    return;
  }
  // iterate with the last dim as the inner loop
  const last = outShape[rank - 1]!;
  const sa = aStrides[rank - 1]!;
  const sb = bStrides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let pa = 0;
  let pb = 0;
  for (let o = 0; o < n; o += last) {
    for (let j = 0; j < last; j++) out[o + j] = f(a[pa + j * sa]!, b[pb + j * sb]!);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      pa += aStrides[d]!;
      pb += bStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      pa -= idx[d]! * aStrides[d]!;
      pb -= idx[d]! * bStrides[d]!;
      idx[d] = 0;
    }
  }
}

export function affine(x: Arr, out: Arr, n: number, alpha: number, s: number): void {
  for (let i = 0; i < n; i++) out[i] = x[i]! * alpha + s;
}

export function axpy(n: number, alpha: number, x: Arr, y: Arr): void {
  for (let i = 0; i < n; i++) y[i] = y[i]! + alpha * x[i]!;
}

export function where(cond: Arr, a: Arr, b: Arr, out: Arr, n: number): void {
  for (let i = 0; i < n; i++) out[i] = cond[i] !== 0 ? a[i]! : b[i]!;
}

export function copyStrided(src: Arr, offset: number, shape: readonly number[], strides: readonly number[], dst: Arr): void {
  const rank = shape.length;
  let n = 1;
  for (const d of shape) n *= d;
  if (n === 0) return;
  if (rank === 0) {
    dst[0] = src[offset]!;
    return;
  }
  const last = shape[rank - 1]!;
  const sl = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let p = offset;
  for (let o = 0; o < n; o += last) {
    if (sl === 1) for (let j = 0; j < last; j++) dst[o + j] = src[p + j]!;
    else for (let j = 0; j < last; j++) dst[o + j] = src[p + j * sl]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      p += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      p -= idx[d]! * strides[d]!;
      idx[d] = 0;
    }
  }
}

export function fill(out: Arr, n: number, value: number): void {
  out.fill(value, 0, n);
}
