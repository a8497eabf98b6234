// ONNX Runtime's side of `pipnet bench` (called by tools/bench_peers.py; reference only).
//   node bench_ort.js MODEL.onnx INPUT.f32 SIZE THREADS B1,B2,... [REPS]
//   node bench_ort.js MODEL.onnx INPUT.f32 SIZE THREADS --serve
// Runs the model once on INPUT (raw float32, [1,3,SIZE,SIZE]) and writes each output beside INPUT as ort_<name>.f32,
// for the caller to check against pipnet's; then times batch 1 for 2 s (at least 10 calls) and each batch size REPS
// (5) times, after a warm-up. Prints {"b1_ms": [median, min, max], "ips": [images/s per batch size]}.
// --serve: for pipnet bench's alternated pairs, reads lines "B SECONDS" on stdin and answers each with one line, the
// median ms of batch B's calls over SECONDS (at least 3 calls, after one untimed), until stdin closes.
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

async function main() {
  const [model, input, sizeArg, threadsArg, batchesArg, repsArg] = process.argv.slice(2);
  const reps = repsArg ? parseInt(repsArg, 10) : 5;
  const S = parseInt(sizeArg, 10), threads = parseInt(threadsArg, 10);
  const batches = batchesArg.split(',').map((b) => parseInt(b, 10));
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential'});
  const buf = fs.readFileSync(input);
  const x1 = new ort.Tensor('float32', new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4), [1, 3, S, S]);
  const out = await session.run({input: x1});
  for (const name of Object.keys(out))
    fs.writeFileSync(path.join(path.dirname(input), `ort_${name}.f32`), Buffer.from(out[name].data.buffer));

  const argmax = (t, B) => {  // decoding's argmax over each landmark's map, as the other engines do
    const per = t.data.length / (B * 68);
    let s = 0;
    for (let k = 0; k < B * 68; k++) {
      let best = 0;
      for (let i = 1; i < per; i++) if (t.data[k * per + i] > t.data[k * per + best]) best = i;
      s += best;
    }
    return s;
  };
  const timed = async (x, B, seconds, reps, minCalls = 10) => {
    await session.run({input: x});
    const ts = [];
    const end = Date.now() + 1000 * seconds;
    while ((reps && ts.length < reps) || (seconds && (Date.now() < end || ts.length < minCalls))) {
      const t0 = process.hrtime.bigint();
      const r = await session.run({input: x});
      argmax(r.cls, B);
      ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ts.sort((a, b) => a - b);
    const n = ts.length, med = n % 2 ? ts[(n - 1) / 2] : (ts[n / 2 - 1] + ts[n / 2]) / 2;
    return [med, ts[0], ts[n - 1]];
  };
  if (batchesArg === '--serve') {
    const inputs = new Map([[1, x1]]);
    const lines = require('readline').createInterface({input: process.stdin});
    for await (const l of lines) {
      const [B, seconds] = l.trim().split(/\s+/).map(Number);
      if (!(B >= 1) || !(seconds > 0)) throw new Error(`--serve: expected "BATCH SECONDS", got "${l}"`);
      if (!inputs.has(B))
        inputs.set(B, new ort.Tensor('float32', new Float32Array(B * 3 * S * S).map(() => Math.random() - 0.5), [B, 3, S, S]));
      const [med] = await timed(inputs.get(B), B, seconds, 0, 3);
      process.stdout.write(`${med}\n`);
    }
    return;
  }
  const b1 = await timed(x1, 1, 2, 0);
  const ips = [];
  for (const B of batches) {
    const xb = new ort.Tensor('float32', new Float32Array(B * 3 * S * S).map(() => Math.random() - 0.5), [B, 3, S, S]);
    ips.push(B / ((await timed(xb, B, 0, reps))[0] / 1e3));
  }
  process.stdout.write(JSON.stringify({b1_ms: b1, ips}) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench_ort.js: ${e.message}\n`);
  process.exit(1);
});
