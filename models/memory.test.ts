/**
 * The memory estimates of jobs against numbers worked out by hand and the
 * demo model's real parameter count, the refusal message, and which errors
 * count as a failed allocation.
 */
import { describe, expect, it } from 'vitest';
import { checkFits, estimateExtractionMemory, estimateTrainingMemory, gib, InsufficientMemoryError, isAllocationFailure, MEMORY_POLICY, usableMemory } from './memory.ts';
import { checkedSpec } from './model-check.ts';
import { DEMO_MODEL_DIR, readModelConfig } from './model-files.ts';

const GIB = 1024 ** 3;

describe('training memory', () => {
  it('the tester\'s d_sae 1,048,576 × batch 65,536 needs terabytes for its latents alone, and is refused naming config.batchSize', () => {
    const e = estimateTrainingMemory({ architecture: 'topk', dSae: 1 << 20, expansionFactor: null, batchSize: 1 << 16, mixingShards: 8 }, [{ d: 256, rows: 1_000_000, shards: 16 }]);
    // [65,536, 1,048,576] float32 = 256 GiB per copy
    expect(e.parts['latents of a batch']).toBe(256 * GIB * MEMORY_POLICY.TRAIN_LATENT_COPIES);
    // 2·256·2^20 + 2^20 + 256 parameters, float32
    expect(e.parts['SAE parameters, Adam moments and their copies']).toBe((2 * 256 * 2 ** 20 + 2 ** 20 + 256) * 4 * MEMORY_POLICY.TRAIN_PARAMETER_COPIES);
    expect(e.field).toBe('config.batchSize');
    let err: unknown;
    try {
      checkFits(e, 64 * GIB, 'This training', 'the largest worker');
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(InsufficientMemoryError);
    const m = err as InsufficientMemoryError;
    expect(m.field).toBe('config.batchSize');
    expect(m.limitBytes).toBe(usableMemory(64 * GIB));
    expect(m.message).toMatch(/^This training needs about 1\.5\d TiB|^This training needs about [\d,.]+ GiB of memory \(latents of a batch [\d.]+ GiB, /);
    expect(m.message).toContain(`more than the ${gib(usableMemory(64 * GIB))} it may use (85 % of the largest worker's 64.00 GiB); lower config.batchSize`);
  });

  it('names the SAE width when the parameters dominate, and fits the demo\'s training in well under a GiB', () => {
    const wide = estimateTrainingMemory({ architecture: 'relu', dSae: 1 << 20, expansionFactor: null, batchSize: 16, mixingShards: 1 }, [{ d: 4096, rows: 4096, shards: 1 }]);
    expect(wide.field).toBe('config.dSae');
    expect(estimateTrainingMemory({ architecture: 'relu', dSae: null, expansionFactor: 256, batchSize: 16, mixingShards: 1 }, [{ d: 4096, rows: 4096, shards: 1 }]).field).toBe('config.expansionFactor');
    const demo = estimateTrainingMemory({ architecture: 'topk', dSae: null, expansionFactor: 8, batchSize: 1024, mixingShards: 8 }, [{ d: 256, rows: 100_000, shards: 10 }]);
    expect(demo.bytes).toBeLessThan(GIB);
    expect(() => checkFits(demo, 4 * GIB, 'This training')).not.toThrow();
    // two hooks trained at once need the sum
    const two = estimateTrainingMemory({ architecture: 'topk', dSae: null, expansionFactor: 8, batchSize: 1024, mixingShards: 8 }, [{ d: 256, rows: 100_000, shards: 10 }, { d: 256, rows: 100_000, shards: 10 }]);
    expect(two.bytes - MEMORY_POLICY.RUNTIME_OVERHEAD_BYTES).toBe(2 * (demo.bytes - MEMORY_POLICY.RUNTIME_OVERHEAD_BYTES));
  });
});

describe('extraction memory', () => {
  it('counts the demo model\'s weights from its config (6,967,296 parameters) and a batch\'s activations', async () => {
    const spec = checkedSpec(await readModelConfig(DEMO_MODEL_DIR));
    const e = estimateExtractionMemory(spec, { dtype: 'fp32', batchSize: 8, contextLength: 128 }, [256]);
    const f32 = e.parts['weights read as float32']!;
    // every matrix of the checkpoint (its biases and norms aside) plus an untied unembedding [8192, 256]
    expect(f32).toBeGreaterThan(0.98 * (6_967_296 + 8192 * 256) * 4);
    expect(f32).toBeLessThanOrEqual((6_967_296 + 8192 * 256) * 4);
    expect(e.parts['hook outputs of a batch']).toBe(2 * 8 * 128 * 256 * 4);
    expect(e.parts['attention of a batch']).toBe(MEMORY_POLICY.FORWARD_ATTENTION_COPIES * 8 * 8 * 128 * 128 * 4);
    expect(e.bytes).toBeLessThan(GIB);
    // fp16 weights take half of fp32's in the graph
    const half = estimateExtractionMemory(spec, { dtype: 'fp16', batchSize: 8, contextLength: 128 }, [256]);
    expect(half.parts['weights at fp16 (graph and runtime)']).toBeCloseTo(e.parts['weights at fp32 (graph and runtime)']! / 2, -3);
    const huge = estimateExtractionMemory(spec, { dtype: 'fp32', batchSize: 1 << 20, contextLength: 64 }, [256]);
    expect(huge.field).toBe('batchSize');
    expect(() => checkFits(huge, 8 * GIB, 'This extraction')).toThrow(/^This extraction needs about [\d.]+ GiB of memory \(forward pass of a batch [\d.]+ GiB, .*lower batchSize$/);
    expect(estimateExtractionMemory(spec, { dtype: 'fp32', batchSize: 1, contextLength: 1 << 16 }, [256]).field).toBe('contextLength');
  });
});

describe('allocation failures', () => {
  it('are recognised from V8 and ONNX Runtime, and nothing else is', () => {
    const caught = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err;
      }
      throw new Error('did not throw');
    };
    expect(isAllocationFailure(caught(() => new ArrayBuffer(2 ** 53 - 1)))).toBe(true);
    expect(isAllocationFailure(caught(() => new Float32Array(2 ** 40)))).toBe(true);
    expect(isAllocationFailure(new Error('[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running MatMul node. Failed to allocate memory for requested buffer of size 1099511627776'))).toBe(true);
    expect(isAllocationFailure(new Error('std::bad_alloc'))).toBe(true);
    expect(isAllocationFailure(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toBe(false);
    expect(isAllocationFailure(new RangeError('Invalid time value'))).toBe(false);
    expect(isAllocationFailure('Array buffer allocation failed')).toBe(false);
  });
});
