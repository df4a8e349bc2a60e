/**
 * Custom ops with a hand-written backward (the shape of PyTorch's `torch.autograd.Function`):
 * fused kernels compute their forward in one pass and supply their own gradient.
 *
 *   const siluFused = customOp("siluFused", {
 *     forward(ctx, x) { ctx.save(x); return …; },
 *     backward(ctx, g) { const [x] = ctx.saved; return [gx]; },
 *   });
 *   const y = siluFused(x);
 *
 * forward runs with grad recording off and the op records a single graph node named `name`.
 * backward receives one gradient per output (null where none flowed) and returns one entry per
 * argument of the call (null for arguments that get no gradient and for non-tensor arguments);
 * every returned gradient must have its input's shape and dtype (checked, naming the op).
 */
import { Tensor } from "../tensor/tensor.js";
import { sameShape, shapeStr } from "../tensor/shape.js";
import { OpError } from "../errors.js";
import { isGradEnabled, noGrad, record } from "./node.js";

/** A custom op's argument: tensors (possibly null) and plain options. */
export type CustomArg = Tensor | null | number | boolean | string | object | undefined;

/** What forward leaves for backward. */
export class CustomContext {
  /** Tensors saved by forward (in order). */
  saved: Tensor[] = [];
  /** For each call argument: true when it is a tensor that will receive a gradient. */
  readonly needsInputGrad: readonly boolean[];
  private values = new Map<string, unknown>();
  /** @internal outputs marked non-differentiable. */
  readonly nonDiff = new Set<Tensor>();

  constructor(
    /** The op's name (for error messages). */
    readonly op: string,
    needsInputGrad: boolean[],
  ) {
    this.needsInputGrad = needsInputGrad;
  }
  /** Keeps tensors for backward (read them back from `saved`). */
  save(...tensors: Tensor[]): void {
    this.saved.push(...tensors);
  }
  /** Keeps a non-tensor value (shapes, flags, scalars) for backward. */
  set(key: string, value: unknown): void {
    this.values.set(key, value);
  }
  get<T>(key: string): T {
    if (!this.values.has(key)) throw new OpError(this.op, `context has no value '${key}' (set it in forward)`);
    return this.values.get(key) as T;
  }
  /** Outputs that get no gradient (indices, masks, counts): never require grad. */
  markNonDifferentiable(...outputs: Tensor[]): void {
    for (const o of outputs) this.nonDiff.add(o);
  }
}

export interface CustomOpDef<A extends CustomArg[], O extends Tensor | Tensor[]> {
  forward(ctx: CustomContext, ...args: A): O;
  backward(ctx: CustomContext, ...gradOutputs: (Tensor | null)[]): (Tensor | null | undefined)[] | Tensor | null;
}

/** Builds an op from a forward and a hand-written backward; returns the callable op. */
export function customOp<A extends CustomArg[], O extends Tensor | Tensor[]>(name: string, def: CustomOpDef<A, O>): (...args: A) => O {
  return (...args: A): O => {
    const tensorArgs: (Tensor | null)[] = args.map((a) => (a instanceof Tensor ? a.check(name) : null));
    const ctx = new CustomContext(name, tensorArgs.map((t) => isGradEnabled() && !!t && t.requiresGrad));
    const result = noGrad(() => def.forward(ctx, ...args));
    const multi = Array.isArray(result);
    const rawOuts: Tensor[] = multi ? (result as Tensor[]) : [result as Tensor];
    const outs = rawOuts.map((o, i) => {
      if (!(o instanceof Tensor)) throw new OpError(name, `forward returned a non-tensor as output ${i}`);
      // a tensor passed straight through (an input, a captured parameter) must keep its own
      // autograd state: the node is attached to a fresh view of it instead
      return o.requiresGrad || o.node || tensorArgs.includes(o) ? new Tensor(o.data, o.shape, o.strides, o.offset) : o;
    });
    const diffIdx = rawOuts.map((o, i) => (ctx.nonDiff.has(o) ? -1 : i)).filter((i) => i >= 0);
    const diffOuts = diffIdx.map((i) => outs[i]!);
    if (diffOuts.length) record(name, tensorArgs, diffOuts, (gs) => {
      const full: (Tensor | null)[] = outs.map(() => null);
      diffIdx.forEach((i, j) => (full[i] = gs[j] ?? null));
      const raw = def.backward(ctx, ...full);
      const grads = Array.isArray(raw) ? raw : [raw];
      if (grads.length !== args.length)
        throw new OpError(name, `backward returned ${grads.length} gradients for ${args.length} arguments`);
      return grads.map((g, i) => {
        const t = tensorArgs[i];
        if (!g || !t || !t.requiresGrad) return null;
        if (!(g instanceof Tensor)) throw new OpError(name, `backward returned a non-tensor gradient for argument ${i}`);
        if (!sameShape(g.shape, t.shape) || g.dtype !== t.dtype)
          throw new OpError(name, `backward returned a gradient of shape ${shapeStr(g.shape)} ${g.dtype} for argument ${i} of shape ${shapeStr(t.shape)} ${t.dtype}`);
        return g;
      });
    }, { userBackward: true });
    return (multi ? outs : outs[0]) as O;
  };
}
