/**
 * The support table of docs/sdks.md, generated from what each SDK folder in `SDKS`
 * declares (its module's ranges, its `support`), so the docs cannot claim an
 * SDK, version or API the code does not instrument. test/support-table.test.ts
 * holds docs/sdks.md to it (`npm run readme:support` or `npm run docs` rewrites it).
 */
import type { SdkAdapter } from './sdk-adapter.js';
import { SDKS } from './sdks.js';

/** The lines around the table in docs/sdks.md. */
export const SUPPORT_TABLE_START =
  '<!-- support-table:start (generated: npm run readme:support) -->';
export const SUPPORT_TABLE_END = '<!-- support-table:end -->';

const HEADER = ['SDK', 'Versions', 'APIs', 'Streaming', 'Cached tokens', 'Fuses'];

/** A table cell: no pipe or line break may end it early. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** One row per SDK folder; an SDK with no `support` says so rather than being left out. */
export function supportTable(sdks: readonly SdkAdapter<any>[] = SDKS): string {
  const rows = sdks.map(({ module, support }) => [
    `\`${module.name}\``,
    module.versions.map((v) => `\`${v}\``).join(' or '),
    support ? support.apis.join('<br>') : '(not declared)',
    support?.streaming ?? '(not declared)',
    support?.cachedTokens ?? '(not declared)',
    support?.fuses ?? '(not declared)',
  ]);
  // Aligned as the repository's formatter (biome) aligns Markdown tables.
  const table = [HEADER, ...rows].map((cells) => cells.map(cell));
  const widths = HEADER.map((_, i) => Math.max(3, ...table.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`;
  return [line(table[0]!), rule, ...table.slice(1).map(line)].join('\n');
}

/** `readme` with the text between the markers replaced by the generated table. */
export function withSupportTable(readme: string, table: string = supportTable()): string {
  const start = readme.indexOf(SUPPORT_TABLE_START);
  const end = readme.indexOf(SUPPORT_TABLE_END);
  if (start < 0 || end < start) return readme;
  return `${readme.slice(0, start + SUPPORT_TABLE_START.length)}\n\n${table}\n\n${readme.slice(end)}`;
}
