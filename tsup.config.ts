import { defineConfig } from 'tsup';

export default defineConfig([
  // Two builds of one source: ESM for `import`/`--import`, CJS for `require`/`--require`.
  // `shims` gives the CJS build a working `import.meta.url` (register.ts needs it to
  // register the ESM loader hook).
  {
    entry: {
      index: 'src/index.ts',
      register: 'src/register.ts',
    },
    format: ['esm', 'cjs'],
    dts: { entry: { index: 'src/index.ts', register: 'src/register.ts' } },
    sourcemap: true,
    clean: false,
    shims: true,
    splitting: true,
    target: 'node22',
    platform: 'node',
  },
  // The `tokenfuse` command (package.json "bin"): ESM only, run by Node, never imported.
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    // `fake-server` bundles examples/shared/; its Bedrock event streams load the AWS
    // SDK's codec on first use, from the user's install (a peer's dependency).
    external: ['@smithy/core'],
    sourcemap: true,
    clean: false,
    splitting: false,
    target: 'node22',
    platform: 'node',
  },
]);
