/**
 * Validation: mean next-token loss over validation batches (no dropout, no grad), perplexity
 * exp(loss), and bits per byte = loss/ln2 × tokens/bytes — comparable across tokenizers.
 */
import { noGrad } from "../autograd/node.js";
import { bitsPerByte, type Dataset } from "../data/index.js";
import type { TrainableModel } from "./trainer.js";

export interface EvalResult {
  loss: number;
  ppl: number;
  bpb: number;
  tokens: number;
  batches: number;
}

export function evaluate(model: TrainableModel, data: Dataset, opts: { batchSize: number; maxBatches?: number }): EvalResult {
  const wasTraining = model.training;
  model.eval();
  let sum = 0;
  let tokens = 0;
  let batches = 0;
  try {
    noGrad(() => {
      for (const b of data.valBatches(opts.batchSize, opts.maxBatches)) {
        const out = model.forward(b.inputs, b.rows, b.seqLen, { targets: b.targets });
        const l = (out.lossMain ?? out.loss)!.item();
        const n = b.rows * b.seqLen;
        sum += l * n;
        tokens += n;
        batches++;
      }
    });
  } finally {
    model.train(wasTraining);
  }
  const loss = sum / Math.max(tokens, 1);
  return { loss, ppl: Math.exp(loss), bpb: bitsPerByte(loss, data.bytesPerToken), tokens, batches };
}
