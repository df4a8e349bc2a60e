/**
 * Activation (gradient) checkpointing (Chen et al., "Training Deep Nets with Sublinear Memory
 * Cost", 2016): run a segment's forward without recording, keep only its inputs, and in backward
 * re-run the segment with recording on and backpropagate through the recomputed graph.
 *
 * Memory: the segment's intermediate activations live only during its own backward, so a stack of
 * L checkpointed layers holds L inputs plus one layer's activations.
 *
 * Replay must reproduce the forward exactly: the default generator's state (seed, offset) at the
 * forward is restored for the recompute so dropout draws the same masks, then put back to where
 * backward found it. Only the default generator is replayed; a segment that draws from another
 * Generator must restore it itself. Segments must not mutate their inputs in place.
 */
import { Tensor } from "../tensor/tensor.js";
import { sameShape, shapeStr } from "../tensor/shape.js";
import { defaultGenerator } from "../tensor/rng.js";
import { OpError } from "../errors.js";
import { enableGrad, isGradEnabled, noGrad, type GradNode } from "./node.js";
import { backward, isReleasingIntermediates } from "./backward.js";

/** Counts recomputations (tests, and to see the cost of checkpointing). */
let recomputes = 0;
export function checkpointRecomputeCount(): number {
  return recomputes;
}

/**
 * Runs `fn(...inputs)` as a checkpointed segment. fn may return one tensor or several and may
 * use parameters from its closure: their gradients accumulate into their `.grad` during the
 * recompute's backward, as without checkpointing.
 *
 * Under noGrad this is just `fn(...inputs)`. With grad on, the outputs always require grad (the
 * parameters fn closes over are unknown until it is re-run).
 */
export function checkpoint<O extends Tensor | Tensor[]>(fn: (...inputs: Tensor[]) => O, ...inputs: Tensor[]): O {
  for (const t of inputs) t.check("checkpoint");
  if (!isGradEnabled()) return fn(...inputs);
  const rngState = defaultGenerator().getState();
  const result = noGrad(() => fn(...inputs));
  const multi = Array.isArray(result);
  const raw: Tensor[] = multi ? (result as Tensor[]) : [result as Tensor];
  const outs = raw.map((o, i) => {
    if (!(o instanceof Tensor)) throw new OpError("checkpoint", `segment returned a non-tensor as output ${i}`);
    // an input or parameter returned as is keeps its own autograd state: hang the node on a view
    return o.requiresGrad || o.node || inputs.includes(o) ? new Tensor(o.data, o.shape, o.strides, o.offset) : o;
  });
  const outShapes = outs.map((o) => o.shape);
  const nOut = outs.length;

  const node: GradNode = {
    op: "checkpoint",
    inputs: inputs.map((t) => (t.requiresGrad ? t : null)),
    numOutputs: nOut,
    outputShapes: outShapes,
    outputs: outs,
    backward: (gouts) => {
      recomputes++;
      const gen = defaultGenerator();
      const resumeAt = gen.getState();
      // leaves standing in for the inputs: the recompute's graph stops here
      const detached = inputs.map((t) => {
        const d = t.detach();
        d.requiresGrad = t.requiresGrad;
        return d;
      });
      let again: Tensor[];
      gen.setState(rngState);
      try {
        const r = enableGrad(() => fn(...detached));
        again = Array.isArray(r) ? r : [r];
      } finally {
        gen.setState(resumeAt);
      }
      if (again.length !== nOut || again.some((o, i) => !sameShape(o.shape, outShapes[i]!)))
        throw new OpError(
          "checkpoint",
          `recompute returned ${again.map((o) => shapeStr(o.shape)).join(", ")} but the forward returned ${outShapes.map(shapeStr).join(", ")} (the segment must be deterministic)`,
        );
      const roots: Tensor[] = [];
      const seeds: Tensor[] = [];
      again.forEach((o, i) => {
        const g = gouts[i];
        if (g && o.requiresGrad) {
          roots.push(o);
          seeds.push(g);
        }
      });
      // the recomputed graph is this node's own: free its intermediates when the outer pass does
      if (roots.length) backward(roots, seeds, { releaseIntermediates: isReleasingIntermediates() });
      return detached.map((d) => (d.requiresGrad ? d.grad : null));
    },
  };
  outs.forEach((o, i) => {
    o.requiresGrad = true;
    o.node = node;
    o.outputIndex = i;
  });
  return (multi ? outs : outs[0]) as O;
}
