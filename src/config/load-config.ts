/**
 * Finds and reads the configuration file, reporting problems with the file's
 * absolute path and the line of each bad field.
 */
import { Buffer } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
} from 'yaml';
import { ConfigError } from '../errors/config-error.js';
import { describeValue, formatPath, showKey } from './messages.js';
import { type ResolvedConfig, resolveValidatedOptions } from './resolved-config.js';
import { type OptionsIssue, validateOptions } from './schema.js';

/** File names looked up in the working directory, first found wins. */
export const CONFIG_FILE_NAMES = [
  'tokenfuse.config.yaml',
  'tokenfuse.config.yml',
  'tokenfuse.config.json',
] as const;

/** Environment variable naming the config file. */
export const CONFIG_PATH_ENV = 'TOKENFUSE_CONFIG';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Environment to read; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Directory searched for a config file and against which relative paths resolve; defaults to `process.cwd()`. */
  cwd?: string;
  /** Config file to read; wins over `TOKENFUSE_CONFIG` and the lookup in `cwd`. */
  path?: string;
}

/**
 * Reads the configuration file, if any, and resolves it against the environment
 * and the defaults.
 *
 * The file is `opts.path`, else the file named by `TOKENFUSE_CONFIG`, else the
 * first of {@link CONFIG_FILE_NAMES} present in `opts.cwd`; with none, the result
 * is the defaults plus the environment (`source: 'defaults'`). YAML and JSON are
 * both read with the YAML parser (JSON is YAML), so both get line numbers.
 *
 * @throws {ConfigError} when a named file is missing or unreadable, is not valid
 *   YAML/JSON, is not a mapping, or has invalid fields (all of them listed, each
 *   with its line); or when an environment variable has an invalid value.
 */
export function loadConfig(opts: LoadConfigOptions = {}): ResolvedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();

  const file = findConfigFile(opts.path, env, cwd);
  if (file === undefined) return resolveValidatedOptions({}, { env, source: 'defaults' });

  const { doc, lineCounter } = parseConfigFile(file.path, file.text);
  const data = toOptionsObject(file.path, doc, lineCounter);
  const result = validateOptions(data);
  if (!result.success) {
    throw new ConfigError(
      file.path,
      // In file order, which is how the reader will fix them (zod lists an
      // object's unknown keys after its fields).
      result.issues
        .map((issue) => locateIssue(issue, doc, lineCounter))
        .sort((a, b) => (a.line ?? 0) - (b.line ?? 0)),
    );
  }
  return resolveValidatedOptions(result.data, { env, source: file.path });
}

/** The file to read with its text, or undefined when none is configured or present. */
function findConfigFile(
  explicitPath: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
): { path: string; text: string } | undefined {
  if (explicitPath !== undefined) {
    const path = resolve(cwd, explicitPath);
    const text = readConfigFile(path);
    if (text === undefined) throw new ConfigError(path, [{ path: '', message: 'file not found' }]);
    return { path, text };
  }

  const fromEnv = env[CONFIG_PATH_ENV]?.trim();
  if (fromEnv) {
    const path = resolve(cwd, fromEnv);
    const text = readConfigFile(path);
    if (text === undefined) {
      throw new ConfigError(`environment variable ${CONFIG_PATH_ENV}`, [
        { path: '', message: `file not found: ${path}` },
      ]);
    }
    return { path, text };
  }

  for (const name of CONFIG_FILE_NAMES) {
    const path = resolve(cwd, name);
    const text = readConfigFile(path);
    if (text !== undefined) return { path, text };
  }
  return undefined;
}

/** Largest config file read; a real one is a few kilobytes. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The file's text, or undefined when it does not exist. Regular files only, of at
 * most {@link MAX_CONFIG_BYTES}: a FIFO would block startup until something writes
 * to it and a device such as /dev/zero never ends. The file is opened without
 * blocking and checked on its descriptor (fstat), so nothing can swap it between
 * the check and the read; reading stops past the limit even if the file grows.
 */
function readConfigFile(path: string): string | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(path, err);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new ConfigError(path, [
        {
          path: '',
          message: `not a regular file (${fileKind(stats)}); tokenfuse reads its configuration from a regular file only`,
        },
      ]);
    }
    const tooLarge = () =>
      new ConfigError(path, [
        {
          path: '',
          message: `file too large (over ${MAX_CONFIG_BYTES} bytes); a tokenfuse configuration is a few kilobytes`,
        },
      ]);
    if (stats.size > MAX_CONFIG_BYTES) throw tooLarge();
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_CONFIG_BYTES) throw tooLarge();
    }
    return buffer.toString('utf8', 0, length);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw unreadable(path, err);
  } finally {
    closeSync(fd);
  }
}

function unreadable(path: string, err: unknown): ConfigError {
  return new ConfigError(
    path,
    [{ path: '', message: `cannot read file: ${(err as Error).message}` }],
    { cause: err },
  );
}

function fileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a file';
}

function parseConfigFile(path: string, text: string): { doc: Document; lineCounter: LineCounter } {
  const lineCounter = new LineCounter();
  // prettyErrors off: its messages embed "at line L, column C" and a source excerpt;
  // the position is reported through the issue's own line instead.
  // uniqueKeys off: the parser's own duplicate-key check compares each key with
  // every earlier one (100,000 keys took minutes); duplicateKeys does it in one pass.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      path,
      doc.errors.map((error) => {
        const at = unclosedOpener(text, error.code, error.message, error.pos[0]) ?? error.pos[0];
        const { line, col } = lineCounter.linePos(at);
        return { path: '', line, column: col, message: `syntax error: ${error.message}` };
      }),
    );
  }
  const duplicates = duplicateKeys(doc);
  if (duplicates.length > 0) {
    throw new ConfigError(
      path,
      duplicates.map(({ path: at, key, offset, firstOffset }) => {
        const { line, col } = lineCounter.linePos(offset);
        const first = lineCounter.linePos(firstOffset).line;
        return {
          path: formatPath(at),
          line,
          column: col,
          message: `duplicate key ${showKey(key)} (first on line ${first})`,
        };
      }),
    );
  }
  return { doc, lineCounter };
}

interface DuplicateKey {
  /** Path of the mapping holding the key. */
  path: (string | number)[];
  key: string;
  /** Offsets of the repeat and of the key's first occurrence. */
  offset: number;
  firstOffset: number;
}

/**
 * Every repeated key of every mapping, in file order. Keys are equal as the
 * parser's own check has them: scalars of the same value (`1` and `'1'` differ);
 * keys that are collections are never equal.
 */
function duplicateKeys(doc: Document): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  visit(doc, {
    Map(_, map, ancestors) {
      const first = new Map<unknown, number>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        const offset = key.range?.[0] ?? 0;
        const firstOffset = first.get(key.value);
        if (firstOffset === undefined) first.set(key.value, offset);
        else
          found.push({ path: pathOf(ancestors, map), key: String(key.value), offset, firstOffset });
      }
    },
  });
  return found.sort((a, b) => a.offset - b.offset);
}

/** The config path of `node`, from the ancestors `visit` gives (document, maps, pairs, sequences). */
function pathOf(ancestors: readonly unknown[], node: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const at = chain[i];
    if (isPair(at)) path.push(isScalar(at.key) ? String(at.key.value) : '?');
    else if (isSeq(at)) path.push(at.items.indexOf(chain[i + 1] as never));
  }
  return path;
}

/**
 * Where an unclosed quote or flow collection (`[`, `{`) opened. The parser reports
 * these where it gave up, often the next key's line; the mistake is at the opener.
 */
function unclosedOpener(
  text: string,
  code: string,
  message: string,
  at: number,
): number | undefined {
  if (code === 'MISSING_CHAR' && /quote/.test(message)) {
    const i = text.lastIndexOf(message.includes('"') ? '"' : "'", at - 1);
    return i >= 0 ? i : undefined;
  }
  const flow = /^Flow (sequence|map)/.exec(message);
  if (code !== 'BAD_INDENT' || !flow) return undefined;
  const [open, close] = flow[1] === 'sequence' ? ['[', ']'] : ['{', '}'];
  let depth = 0;
  for (let i = at - 1; i >= 0; i--) {
    if (text[i] === close) depth++;
    else if (text[i] === open && depth-- === 0) return i;
  }
  return undefined;
}

/** The document as a plain object: `{}` for an empty file, an error for a top level that is not a mapping. */
function toOptionsObject(path: string, doc: Document, lineCounter: LineCounter): unknown {
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    // e.g. an alias whose anchor is not defined
    throw new ConfigError(path, [{ path: '', message: (err as Error).message }], { cause: err });
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(path, [
      {
        path: '',
        line: lineAt(doc, lineCounter, []),
        message: `expected a mapping of tokenfuse options at the top level, got ${describeValue(data)}`,
      },
    ]);
  }
  return data;
}

function locateIssue(issue: OptionsIssue, doc: Document, lineCounter: LineCounter) {
  return {
    path: formatPath(issue.path),
    message: issue.message,
    line: lineAt(doc, lineCounter, issue.locate ?? issue.path),
  };
}

/**
 * 1-based line of the node at `path`: of the key for a mapping entry (a block
 * value starts on the line after its key), of the item for a sequence entry.
 * When the path leads to a field that is absent (a missing required field), the
 * line of the deepest node that exists.
 */
function lineAt(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly (string | number)[],
): number | undefined {
  let node: unknown = doc.contents;
  let offset = nodeStart(node);
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) break;
      offset = nodeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      offset = nodeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

function nodeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] | null } | null)?.range;
  return range ? range[0] : undefined;
}
