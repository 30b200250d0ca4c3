import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import solid from 'vite-plugin-solid';

// The web app lives in web/ and is built to web/dist, which the server hosts.
// In development (`npm run dev:web`) the API is proxied to a running server.
const apiPort = Number(process.env.PORT ?? 8787);

/**
 * ONNX Runtime Web's WebAssembly runtime (the build its WebGPU bundle loads, which also runs the
 * WASM provider), served by us at /ort/ (web/engine/inspector-model.ts sets `ort.env.wasm.wasmPaths`
 * there): copied into web/dist/ort/ by the build, served from node_modules by the dev server. No CDN.
 */
const ORT_DIST = path.resolve('node_modules/onnxruntime-web/dist');
const ORT_FILES = ['ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.mjs'];

function ortRuntime(): Plugin {
  return {
    name: 'loupe-ort-runtime',
    configureServer(server) {
      server.middlewares.use('/ort/', (req, res, next) => {
        const name = (req.url ?? '').replace(/^\//, '').split('?')[0]!;
        if (!ORT_FILES.includes(name)) return next();
        res.setHeader('content-type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        createReadStream(path.join(ORT_DIST, name)).pipe(res);
      });
    },
    generateBundle() {
      for (const name of ORT_FILES) this.emitFile({ type: 'asset', fileName: `ort/${name}`, source: readFileSync(path.join(ORT_DIST, name)) });
    },
  };
}

export default defineConfig({
  root: 'web',
  plugins: [solid(), ortRuntime()],
  // ONNX Runtime's build that loads its WebAssembly runtime from wasmPaths (/ort/) rather than bundling a copy
  resolve: { alias: [{ find: /^onnxruntime-web\/webgpu$/, replacement: path.join(ORT_DIST, 'ort.webgpu.min.mjs') }] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: {
    // '/api/', not '/api': the prefix would also send the app's own module /api.ts to the server
    proxy: { '/api/': `http://127.0.0.1:${apiPort}` },
  },
});
