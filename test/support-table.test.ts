// The support table (docs/sdks.md) is what the adapters declare: generated from SDKS (each
// module's ranges and `support`), so an SDK folder added to sdks.ts gets its row, and a
// table edited by hand fails here. `npm run readme:support` (or `npm run docs`) rewrites it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SdkAdapter } from '../src/instrumentation/sdk-adapter.js';
import { SDKS } from '../src/instrumentation/sdks.js';
import {
  SUPPORT_TABLE_END,
  SUPPORT_TABLE_START,
  supportTable,
  withSupportTable,
} from '../src/instrumentation/support-table.js';
import { ROOT } from './helpers/processes.js';

const SDKS_DOC = join(ROOT, 'docs/sdks.md');

describe('support table in docs/sdks.md', () => {
  it('is exactly what the adapters in SDKS generate', () => {
    const doc = readFileSync(SDKS_DOC, 'utf8');
    if (process.env.UPDATE_SUPPORT_TABLE === '1') writeFileSync(SDKS_DOC, withSupportTable(doc));
    const now = readFileSync(SDKS_DOC, 'utf8');
    expect(now.split(SUPPORT_TABLE_START)).toHaveLength(2);
    expect(now.split(SUPPORT_TABLE_END)).toHaveLength(2);
    const between = now.slice(
      now.indexOf(SUPPORT_TABLE_START) + SUPPORT_TABLE_START.length,
      now.indexOf(SUPPORT_TABLE_END),
    );
    expect(between, 'run `npm run readme:support`').toBe(`\n\n${supportTable()}\n\n`);
  });

  it('has one row per SDK in SDKS, with its name and declared ranges', () => {
    const rows = supportTable().split('\n').slice(2);
    expect(rows).toHaveLength(SDKS.length);
    SDKS.forEach((sdk, i) => {
      expect(rows[i]!.startsWith(`| \`${sdk.module.name}\` `)).toBe(true);
      expect(rows[i]).toMatch(/^\| `[^`]+` +\| /);
      for (const range of sdk.module.versions) expect(rows[i]).toContain(`\`${range}\``);
    });
  });

  it('every adapter in SDKS declares its support row', () => {
    expect(SDKS.filter((sdk) => !sdk.support).map((sdk) => sdk.module.name)).toEqual([]);
  });

  it('renders a new adapter as a row, aligned as biome formats Markdown, undeclared cells said, pipes escaped', () => {
    const fake = {
      module: { name: '@acme/llm', versions: ['>=1.0.0 <2', '>=2.1.0 <3'] },
      support: {
        apis: ['`chat.send`', '`chat.stream()`'],
        streaming: 'yes | usage from the last event',
        cachedTokens: 'none',
        fuses: 'every API',
      },
    } as unknown as SdkAdapter;
    const bare = { module: { name: 'bare', versions: ['*'] } } as unknown as SdkAdapter;
    expect(supportTable([fake, bare])).toBe(
      [
        '| SDK         | Versions                     | APIs                           | Streaming                        | Cached tokens  | Fuses          |',
        '| ----------- | ---------------------------- | ------------------------------ | -------------------------------- | -------------- | -------------- |',
        '| `@acme/llm` | `>=1.0.0 <2` or `>=2.1.0 <3` | `chat.send`<br>`chat.stream()` | yes \\| usage from the last event | none           | every API      |',
        '| `bare`      | `*`                          | (not declared)                 | (not declared)                   | (not declared) | (not declared) |',
      ].join('\n'),
    );
  });
});
