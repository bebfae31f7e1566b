/**
 * Code blocks of the docs that a test runs. A block is runnable when an HTML comment
 * right before it says so:
 *
 *   <!-- runnable -->                  run the `sh` block (bash, `set -e`) in the session's directory
 *   <!-- runnable file=app.mjs -->     write the block to that file in the session's directory
 *   <!-- runnable expect=stdout -->    its stdout (or `stderr`) must equal the next code block
 *   <!-- runnable exit=78 -->          the exit status it must end with (default 0)
 *   <!-- runnable background port=8787 cwd=clone -->
 *                                      start it, wait until the port answers, stop it at the end
 *
 * The blocks of one page run in order, as one terminal session: a `cd` in one block
 * holds for the next. `cwd=<name>` runs a block in a named directory instead (the
 * clone of the repository, in the README's quickstart).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Lexer, type Token } from 'marked';
import { childEnv } from './processes.js';

export interface RunnableBlock {
  /** Line of the block's opening fence, for messages. */
  line: number;
  lang: string;
  code: string;
  options: Record<string, string>;
  /** The output the block must print (`expect=`), from the code block after it. */
  expected?: string;
}

const MARK = /^<!--\s*runnable\b(.*?)-->\s*$/s;

/** The runnable blocks of a Markdown page, in order. */
export function runnableBlocks(markdown: string): RunnableBlock[] {
  const tokens = new Lexer().lex(markdown);
  const blocks: RunnableBlock[] = [];
  let line = 1;
  let pending: Record<string, string> | undefined;
  let awaitingOutput: RunnableBlock | undefined;
  for (const token of tokens as Token[]) {
    const at = line;
    line += (token.raw.match(/\n/g) ?? []).length;
    if (token.type === 'space') continue;
    if (token.type === 'html') {
      const mark = MARK.exec(token.raw.trim());
      if (mark) pending = parseOptions(mark[1]!);
      continue;
    }
    if (token.type === 'code' && awaitingOutput) {
      awaitingOutput.expected = (token as Token & { text: string }).text;
      awaitingOutput = undefined;
      continue;
    }
    if (token.type === 'code' && pending) {
      const { lang, text } = token as Token & { lang?: string; text: string };
      const block: RunnableBlock = { line: at, lang: lang ?? '', code: text, options: pending };
      blocks.push(block);
      if (pending.expect) awaitingOutput = block;
    }
    pending = undefined;
  }
  return blocks;
}

function parseOptions(text: string): Record<string, string> {
  const options: Record<string, string> = {};
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    if (eq < 0) options[word] = 'true';
    else options[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return options;
}

export interface SessionOptions {
  /** The directory the session starts in. */
  cwd: string;
  /** Directories a block may name with `cwd=<name>`. */
  dirs?: Record<string, string>;
  env?: Record<string, string>;
  /** Replacements applied to output before it is compared (`/tmp/x` → `/srv/app`). */
  replace?: [string, string][];
  timeoutMs?: number;
}

export interface BlockRun {
  block: RunnableBlock;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a block runs with: the test's Node first on PATH, nothing of tokenfuse's. */
function blockEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = childEnv(extra);
  env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ''}`;
  return env;
}

/** Trailing blanks of each line and of the whole text removed, replacements applied. */
export function normalise(text: string, replace: [string, string][] = []): string {
  let out = text;
  for (const [from, to] of replace) out = out.split(from).join(to);
  return out
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trimEnd();
}

/** Whether something accepts connections on the loopback port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function waitForPort(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing answered on port ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Runs `blocks` as one session. Resolves with every foreground block's run; rejects
 * with the block's line, output and status when one ends otherwise than it declares,
 * or prints other than its expected output.
 */
export async function runSession(
  blocks: RunnableBlock[],
  opts: SessionOptions,
): Promise<BlockRun[]> {
  const background: ChildProcess[] = [];
  const runs: BlockRun[] = [];
  const state = mkdtempSync(join(tmpdir(), 'tokenfuse-docs-session-'));
  let cwd = opts.cwd;
  try {
    for (const block of blocks) {
      const where = block.options.cwd ? opts.dirs?.[block.options.cwd] : cwd;
      if (!where) throw new Error(`line ${block.line}: no directory named ${block.options.cwd}`);
      if (block.options.file) {
        writeFileSync(join(where, block.options.file), `${block.code}\n`);
        continue;
      }
      if (block.options.background) {
        const wanted = Number(block.options.port);
        // A port already taken would have the session talk to someone else's server.
        if (wanted && (await answers(wanted)))
          throw new Error(
            `line ${block.line}: port ${wanted} is already in use; stop what holds it`,
          );
        const child = spawn('bash', ['-c', block.code], {
          cwd: where,
          env: blockEnv(opts.env),
          stdio: 'ignore',
          detached: true,
        });
        background.push(child);
        if (wanted) await waitForPort(wanted, Date.now() + 30_000);
        continue;
      }
      const cwdFile = join(state, 'cwd');
      const run = await new Promise<BlockRun>((resolve) => {
        const child = spawn('bash', ['-c', `set -e\n${block.code}\npwd > '${cwdFile}'`], {
          cwd: where,
          env: blockEnv(opts.env),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 240_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ block, code, stdout, stderr });
        });
      });
      runs.push(run);
      const said = `line ${block.line}: \`${block.code}\`\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
      const exit = Number(block.options.exit ?? 0);
      if (run.code !== exit) throw new Error(`${said}\nexited ${run.code}, expected ${exit}`);
      if (block.options.expect) {
        const got = block.options.expect === 'stderr' ? run.stderr : run.stdout;
        const want = normalise(block.expected ?? '');
        if (normalise(got, opts.replace) !== want)
          throw new Error(`${said}\nexpected ${block.options.expect}:\n${want}`);
      }
      if (!block.options.cwd && exit === 0) cwd = readFileSync(cwdFile, 'utf8').trim();
    }
    return runs;
  } finally {
    // Stopped, and waited for, so the next session finds its ports free.
    await Promise.all(
      background.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null || !child.pid)
              return resolve();
            child.once('exit', () => resolve());
            try {
              process.kill(-child.pid, 'SIGTERM');
            } catch {
              resolve();
            }
          }),
      ),
    );
    rmSync(state, { recursive: true, force: true });
  }
}
