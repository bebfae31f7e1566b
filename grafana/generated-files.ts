// What the three builds under grafana/ (dashboards, prometheus, kubernetes) share: each renders
// its files to exact text, writes them, and in CI checks that the committed copies are that
// text. One helper for each step, so the three `--check` paths cannot drift apart.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A generated file: its name in its directory and the exact text the build writes. */
export interface RenderedFile {
  file: string;
  text: string;
}

/** The names of the rendered files whose copy in `dir` differs or is missing, in their order. */
export function staleOf(rendered: readonly RenderedFile[], dir: string): string[] {
  return rendered
    .filter(({ file, text }) => {
      try {
        return readFileSync(join(dir, file), 'utf8') !== text;
      } catch {
        return true;
      }
    })
    .map(({ file }) => file);
}

/** Writes every rendered file into `dir`; returns their names. */
export function writeAll(rendered: readonly RenderedFile[], dir: string): string[] {
  for (const { file, text } of rendered) writeFileSync(join(dir, file), text);
  return rendered.map(({ file }) => file);
}

/**
 * A build's command line: `--check` exits 1 naming each stale file (CI), otherwise writes them.
 * `what` names the files in messages ("Grafana dashboards"), `script` is the npm script that
 * regenerates them and `path` their directory as the messages show it (repository-relative).
 */
export function runBuild(spec: {
  what: string;
  script: string;
  path: string;
  dir: string;
  render: () => RenderedFile[];
}): void {
  const rendered = spec.render();
  if (process.argv.includes('--check')) {
    const stale = staleOf(rendered, spec.dir);
    if (stale.length > 0) {
      console.error(`${spec.what} out of date (run \`npm run ${spec.script}\`):`);
      for (const file of stale) console.error(`  ${spec.path}/${file}`);
      process.exit(1);
    }
    console.log(`${spec.what} up to date.`);
  } else {
    for (const file of writeAll(rendered, spec.dir)) console.log(`wrote ${spec.path}/${file}`);
  }
}
