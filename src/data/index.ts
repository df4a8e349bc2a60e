/**
 * Data loading for training: built-in corpora and user files → documents → deterministic
 * train/validation split → EOT-separated token streams packed into T+1-token sequences →
 * seeded, resumable batches; plus bytes-per-token for bits-per-byte.
 */
export { BatchIterator, sequentialBatches, validateCursor, type Batch, type Cursor } from "./batches.js";
export { loadDataset, type Dataset, type DatasetOptions } from "./dataset.js";
export { bitsPerByte, bytesPerToken, packSplit, sequence, tokenStream, type PackedSplit } from "./pack.js";
export { permutation, Rng } from "./rng.js";
export { BUILTIN_CORPORA, loadDocuments, parseJsonl, type Document } from "./sources.js";
export { splitDocuments, type TextSplit } from "./split.js";
