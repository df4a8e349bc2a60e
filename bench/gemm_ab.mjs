// A/B benchmark of two (or more) builds of the native addon's gemm in one process: the builds'
// calls alternate round by round, so turbo phases and outside load hit every build alike, and the
// FMA peak is re-read every round (the best reading is kept). This is how each change to
// native/src/gemm_impl.h in docs/benchmarks.md was measured.
//
//   cp build/Release/chimera_native.node /tmp/old.node      # before the change
//   npm run build                                           # after it
//   node bench/gemm_ab.mjs /tmp/old.node,build/Release/chimera_native.node [threads=1] \
//        [blas=builtin|openblas] ['[[m,k,n],…]'] [rounds=8] [NN|NT|TN|TT]
//
// Each build's cell: best wall-clock GFLOP/s over the rounds, its % of the best peak reading.
const files = process.argv[2].split(",");
const mods = files.map((f) => {
  const m = { exports: {} };
  process.dlopen(m, f);
  return m.exports;
});
const th = Number(process.argv[3] || 1);
const blas = process.argv[4] || "builtin";
for (const m of mods) {
  m.setThreads(th);
  if (!m.setBlas(blas)) throw new Error(`${blas} is not available`);
}
const shapes = JSON.parse(process.argv[5] || "[[512,512,512],[1024,1024,1024],[2048,2048,2048],[256,768,3072]]");
const rounds = Number(process.argv[6] || 8);
const layout = process.argv[7] || "NN";
const tA = layout[0] === "T";
const tB = layout[1] === "T";
let peak = 0;
for (const [m, k, n] of shapes) {
  const A = new Float32Array(m * k).map(() => Math.random() - 0.5);
  const B = new Float32Array(k * n).map(() => Math.random() - 0.5);
  const C = new Float32Array(m * n);
  const call = (mod) => mod.gemm(tA, tB, m, n, k, 1, A, 0, tA ? m : k, B, 0, tB ? k : n, 0, C, 0, n);
  const best = mods.map(() => Infinity);
  const reps = Math.max(1, Math.round(3e8 / (m * n * k)));
  for (let r = 0; r < rounds; r++) {
    peak = Math.max(peak, mods[0].fmaPeak(th, 0.05));
    mods.forEach((mod, i) => {
      call(mod); // warm-up
      const t = process.hrtime.bigint();
      for (let q = 0; q < reps; q++) call(mod);
      best[i] = Math.min(best[i], Number(process.hrtime.bigint() - t) / 1e9 / reps);
    });
  }
  const gf = (s) => (2 * m * n * k) / s / 1e9;
  const cells = files.map((f, i) => `${f.split("/").pop()} ${gf(best[i]).toFixed(1)} (${((100 * gf(best[i])) / peak).toFixed(0)}%)`);
  console.log(`${layout} ${m}x${k}x${n} ${th}t ${blas}: ${cells.join(" | ")} | peak ${peak.toFixed(0)}`);
}
