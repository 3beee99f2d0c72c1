// The detector worker's entry point. Plain JavaScript because a worker thread starts in bare Node,
// which cannot load TypeScript: under vitest nothing registers tsx, and whether `npm start`'s tsx
// hooks reach a worker depends on the Node version. tsImport loads worker.ts (and what it imports)
// through tsx in a namespace of its own, so it works the same whether or not tsx is already active.
import { tsImport } from "tsx/esm/api";

await tsImport("./worker.ts", import.meta.url);
