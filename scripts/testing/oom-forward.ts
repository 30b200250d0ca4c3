/**
 * Child process of the out-of-memory test in models/model.test.ts: runs the
 * demo model over `rows` rows in one chunk under the address-space limit its
 * parent set (ulimit -v), and prints one JSON line: chunks seen, the chunk
 * size it ended with, the fallback messages and a checksum of the outputs
 * (the output is small, the attention scores inside are large, so that ONNX
 * Runtime's allocations are the ones that fail).
 */
import { loadModel } from '../../models/model.ts';

const [rows, T] = [Number(process.argv[2] ?? 64), Number(process.argv[3] ?? 512)];
const model = await loadModel(new URL('../../demo/models/tiny-gpt2-debian-6l', import.meta.url).pathname, { device: 'cpu', threads: 1 });
const ids = BigInt64Array.from({ length: rows * T }, (_, i) => BigInt((i * 7919) % 8192));
const fallbacks: string[] = [];
let sum = 0;
let seen = 0;
const end = await model.forwardChunks(ids, [rows, T], ['blocks.1.hook_resid_post'], {
  rows,
  onChunk: (first, out) => {
    const data = out['blocks.1.hook_resid_post']!.data;
    for (let i = 0; i < data.length; i++) sum += Math.abs(data[i]!);
    seen += out['blocks.1.hook_resid_post']!.dims[0]!;
    void first;
  },
  onFallback: (m) => fallbacks.push(m),
});
console.log(JSON.stringify({ rows: end.rows, provider: end.provider, seen, sum, fallbacks }));
await model.close();
