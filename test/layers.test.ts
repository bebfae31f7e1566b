import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layers of src/, bottom first (docs/architecture.md: the layers). A file may
 * import from its own layer or a lower one, never from a higher one; and no two
 * folders import each other, directly or round a loop.
 */
const LAYERS: ReadonlyArray<{ name: string; paths: string[] }> = [
  {
    name: 'ground',
    paths: [
      'metrics/contract.ts',
      'errors/',
      'types.ts',
      'budget-options.ts',
      'glob.ts',
      'log-text.ts',
      'version.ts',
      'free-time-signal.ts',
      'internal-errors.ts',
    ],
  },
  { name: 'budgets', paths: ['budgets/'] },
  { name: 'pricing', paths: ['pricing/'] },
  { name: 'fuses', paths: ['fuses/'] },
  { name: 'metrics', paths: ['metrics/'] },
  {
    name: 'config, attribution, restore, admin',
    paths: ['config/', 'attribution/', 'restore/', 'admin/'],
  },
  { name: 'accounting', paths: ['accounting/'] },
  // internal-types.ts: the openai SDK's object shapes, read by instrumentation/openai/ only.
  { name: 'instrumentation', paths: ['instrumentation/', 'internal-types.ts'] },
  { name: 'composition', paths: ['compose.ts', 'startup.ts', 'otel-exporters.ts'] },
  {
    name: 'entry points',
    paths: ['tokenfuse.ts', 'runtime.ts', 'index.ts', 'register.ts', 'cli/'],
  },
];

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [relative(SRC, path)] : [];
  });
}

/** The layer of a file: the most specific path that names it. */
function layerOf(file: string): number {
  let best = -1;
  let bestLength = -1;
  LAYERS.forEach((layer, index) => {
    for (const path of layer.paths) {
      const hit = path.endsWith('/') ? file.startsWith(path) : file === path;
      if (hit && path.length > bestLength) {
        best = index;
        bestLength = path.length;
      }
    }
  });
  return best;
}

/** Relative imports (static, `import type`, and re-exports) of one file, as src-relative paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.{1,2}\/[^']+)'/g,
  )) {
    const target = normalize(join(dirname(file), m[1] as string)).replace(/\.js$/, '.ts');
    out.push(target);
  }
  return out;
}

/**
 * The folder a file belongs to for the cycle check (`fuses/stores/redis` counts as
 * `fuses`). A ground file stands alone: `metrics/contract.ts` imports nothing, so
 * ground files importing it tie them to no other part of `metrics/`.
 */
function folderOf(file: string): string {
  if (layerOf(file) === 0) return file;
  const first = file.split('/')[0] as string;
  return file.includes('/') ? first : file;
}

const files = sourceFiles(SRC);

describe('the layers of src/', () => {
  it('places every source file in a layer', () => {
    expect(files.filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('has no import from a lower layer into a higher one', () => {
    const upward: string[] = [];
    for (const file of files) {
      for (const target of importsOf(file)) {
        if (layerOf(target) > layerOf(file)) {
          upward.push(
            `${file} (${LAYERS[layerOf(file)]?.name}) imports ${target} (${LAYERS[layerOf(target)]?.name})`,
          );
        }
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const file of files) {
      for (const target of importsOf(file)) {
        const from = folderOf(file);
        const to = folderOf(target);
        if (from === to) continue;
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from)?.add(to);
      }
    }
    const cycles: string[] = [];
    const reach = (start: string, node: string, path: string[], seen: Set<string>): void => {
      for (const next of edges.get(node) ?? []) {
        if (next === start) cycles.push([...path, next].join(' -> '));
        else if (!seen.has(next)) {
          seen.add(next);
          reach(start, next, [...path, next], seen);
        }
      }
    };
    for (const folder of edges.keys()) reach(folder, folder, [folder], new Set());
    expect(cycles).toEqual([]);
  });

  it('keeps the metrics contract free of imports, so anything may read it', () => {
    expect(importsOf('metrics/contract.ts')).toEqual([]);
  });

  it('reads imports the way this test assumes (a known import is found)', () => {
    expect(importsOf('fuses/fuse-board.ts')).toContain('budgets/budget.ts');
  });
});
