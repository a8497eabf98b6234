// ONNX Runtime's side of tools/profile_ort.py (reference only).
//   node profile_ort.js MODEL.onnx SIZE THREADS BATCH RUNS WARMUP PROFILE_PREFIX
// Runs MODEL on a random [BATCH,3,SIZE,SIZE] input with ORT's profiler on: WARMUP runs, then RUNS timed runs, then
// ends the profiling (ORT writes PROFILE_PREFIX_<date>.json). Prints {"wall_ms": [ms of each timed session.run]}.
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

async function main() {
  const [model, S, threads, B, runs, warmup] = process.argv.slice(2, 8).map((v, i) => (i ? parseInt(v, 10) : v));
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
    enableProfiling: true, profileFilePrefix: process.argv[8]});
  const x = new ort.Tensor('float32', new Float32Array(B * 3 * S * S).map(() => Math.random() - 0.5), [B, 3, S, S]);
  for (let i = 0; i < warmup; i++) await session.run({input: x});
  const wall = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run({input: x});
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  session.endProfiling();
  await session.release();
  process.stdout.write(JSON.stringify({wall_ms: wall}) + '\n');
}

main().catch((e) => {
  process.stderr.write(`profile_ort.js: ${e.message}\n`);
  process.exit(1);
});
