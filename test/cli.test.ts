import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PACKAGE_VERSION } from '../src/version.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

/** Runs the built `tokenfuse` binary as a user would, with the test's own Node. */
function tokenfuse(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('the tokenfuse command', () => {
  it('prints its version', async () => {
    const run = await tokenfuse(['--version']);
    expect(run).toMatchObject({ code: 0, stdout: `${PACKAGE_VERSION}\n` });
  });

  it('prints help naming the program', async () => {
    const run = await tokenfuse(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: tokenfuse \[options\]/);
  });

  it('rejects an unknown command with a usage error and exit code 2', async () => {
    const run = await tokenfuse(['no-such-command']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('(run with --help for usage)');
    expect(run.stdout).toBe('');
  });
});
