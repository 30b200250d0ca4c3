import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

// The web app lives in web/ and is built to web/dist, which the server hosts.
// In development (`npm run dev:web`) the API is proxied to a running server.
const apiPort = Number(process.env.PORT ?? 8787);

export default defineConfig({
  root: 'web',
  plugins: [solid()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    proxy: { '/api': `http://127.0.0.1:${apiPort}` },
  },
});
