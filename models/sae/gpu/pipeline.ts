/**
 * Compiling WGSL kernels (kernels.ts, feature-kernels.ts) into pipelines,
 * once per device and source, and sizing their dispatches.
 */
import type { Kernel } from './kernels.ts';

/** Largest workgroup count of one dispatch dimension (WebGPU's default limit). */
const MAX_GROUPS = 65535;

/** A flat count of workgroups as a 2-D dispatch (the kernels recover the flat index from num_workgroups). */
export function flat(groups: number): [number, number] {
  return groups <= MAX_GROUPS ? [Math.max(groups, 1), 1] : [MAX_GROUPS, Math.ceil(groups / MAX_GROUPS)];
}

export interface Prepared {
  kernel: Kernel;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Compiled kernels by device and WGSL source: steppers of the same shapes (several hooks, a resumed run) share them. */
const compiled = new WeakMap<GPUDevice, Map<string, Promise<Prepared>>>();

/** The kernel's pipeline and bind group layout on `device`, compiled once. */
export function prepare(device: GPUDevice, kernel: Kernel): Promise<Prepared> {
  let cache = compiled.get(device);
  if (!cache) compiled.set(device, (cache = new Map()));
  const hit = cache.get(kernel.code);
  if (hit) return hit;
  const made = (async (): Promise<Prepared> => {
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: kernel.name, code: kernel.code });
    const layout = device.createBindGroupLayout({
      label: kernel.name,
      entries: kernel.bindings.map((b, i) => ({
        binding: i,
        visibility: 4, // GPUShaderStage.COMPUTE
        buffer: { type: b.kind === 'uniform' ? 'uniform' : b.kind === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    const invalid = await device.popErrorScope();
    if (errors.length) throw new Error(`WGSL kernel ${kernel.name}: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
    if (invalid) throw new Error(`WGSL kernel ${kernel.name}: ${invalid.message}`);
    const pipeline = await device.createComputePipelineAsync({
      label: kernel.name,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    return { kernel, pipeline, layout };
  })();
  cache.set(kernel.code, made);
  made.catch(() => cache.get(kernel.code) === made && cache.delete(kernel.code));
  return made;
}

/** WebGPU's flag values (the spec's numbers): this file is loaded by the browser too, where Dawn's `webgpu` package is not. */
const MAP_READ = 0x1;
const COPY_DST = 0x8;
const MAP_MODE_READ = 0x1;

/** Copies `buffers` to the host (one submit, mapped together), as raw bytes in their order. */
export async function readBuffers(device: GPUDevice, buffers: readonly GPUBuffer[]): Promise<ArrayBuffer[]> {
  const enc = device.createCommandEncoder();
  const staging = buffers.map((src) => {
    const s = device.createBuffer({ label: `read ${src.label}`, size: src.size, usage: MAP_READ | COPY_DST });
    enc.copyBufferToBuffer(src, 0, s, 0, src.size);
    return s;
  });
  device.queue.submit([enc.finish()]);
  try {
    await Promise.all(staging.map((s) => s.mapAsync(MAP_MODE_READ)));
    return staging.map((s) => s.getMappedRange().slice(0));
  } finally {
    for (const s of staging) s.destroy();
  }
}
