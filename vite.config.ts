import { defineConfig } from "vite";

// The app lives in frontend/ and is built into static/, which Flask serves as-is.
export default defineConfig({
  root: "frontend",
  base: "/",
  // frontend/public/.gitkeep is copied into static/ so the emptied folder keeps its placeholder.
  publicDir: "public",
  build: {
    outDir: "../static",
    emptyOutDir: true,
    target: "es2022",
    // No source maps in the build the server serves (it refuses *.map requests as well).
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: {
      "/api": "http://127.0.0.1:5000",
      "/socket.io": { target: "http://127.0.0.1:5000", ws: true },
    },
  },
});
