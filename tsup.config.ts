import { defineConfig } from 'tsup';

// Two builds of one source: ESM for `import`/`--import`, CJS for `require`/`--require`.
// `shims` gives the CJS build a working `import.meta.url` (register.ts needs it to
// register the ESM loader hook).
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    register: 'src/register.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', register: 'src/register.ts' } },
  sourcemap: true,
  clean: true,
  shims: true,
  splitting: true,
  target: 'node22',
  platform: 'node',
});
