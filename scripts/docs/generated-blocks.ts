/**
 * Generated blocks in the docs: the text between a start and an end marker is
 * written by code, never by hand. `npm run docs` rewrites every block, and
 * test/docs.test.ts fails while a committed block differs from what is generated.
 */

/** The start marker of block `name`; the end marker is `<!-- name:end -->`. */
export function startMarker(name: string): string {
  return `<!-- ${name}:start (generated: npm run docs) -->`;
}

export function endMarker(name: string): string {
  return `<!-- ${name}:end -->`;
}

/** The text between the markers of block `name`, or undefined when either marker is missing. */
export function readBlock(doc: string, name: string): string | undefined {
  const start = doc.indexOf(startMarker(name));
  const end = doc.indexOf(endMarker(name));
  if (start < 0 || end < start) return undefined;
  return doc.slice(start + startMarker(name).length, end);
}

/** `doc` with the text between the markers of block `name` replaced by `content`. */
export function writeBlock(doc: string, name: string, content: string): string {
  if (readBlock(doc, name) === undefined)
    throw new Error(`no block ${name}: add ${startMarker(name)} and ${endMarker(name)}`);
  const start = doc.indexOf(startMarker(name)) + startMarker(name).length;
  return `${doc.slice(0, start)}\n\n${content}\n\n${doc.slice(doc.indexOf(endMarker(name)))}`;
}

/** A Markdown table aligned as biome formats Markdown, pipes in cells escaped. */
export function markdownTable(header: string[], rows: string[][]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
  const table = [header, ...rows].map((cells) => cells.map(cell));
  const widths = header.map((_, i) => Math.max(3, ...table.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`;
  return [line(table[0]!), rule, ...table.slice(1).map(line)].join('\n');
}
