/**
 * The options table of docs/configuration.md, generated from the zod schema of the
 * config (src/config/schema.ts and its sections): every field, its type and checks as
 * the schema declares them, its default from CONFIG_DEFAULTS, and the words of
 * CONFIG_DESCRIPTIONS (or the field's own `.describe()` text). A field added to the
 * schema gets its row at the next `npm run docs`, described or not.
 */
import { CONFIG_DEFAULTS } from '../../src/config/defaults.js';
import { tokenfuseOptionsSchema } from '../../src/config/schema.js';
import { CONFIG_DESCRIPTIONS } from './config-descriptions.js';
import { markdownTable } from './generated-blocks.js';

/** One row of the reference: a field of the config, by its path as users write it. */
export interface ConfigField {
  /** `metrics.port`, `budgets[].limit.usd`. */
  path: string;
  type: string;
  required: boolean;
}

// zod 4 keeps what a schema is in `def`; only the parts this reference reads are typed.
interface Def {
  type: string;
  innerType?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  options?: Schema[];
  entries?: Record<string, string>;
  valueType?: Schema;
  checks?: { _zod: { def: { check: string; format?: string; prefix?: string } } }[];
}
interface Schema {
  def: Def;
  description?: string;
  minValue?: number | null;
  maxValue?: number | null;
  isInt?: boolean;
}

const code = (value: string) => `\`${value}\``;

/** `'a', 'b' or 'c'` as the reference writes a list of choices. */
function choices(values: string[]): string {
  const quoted = values.map(code);
  return quoted.length < 2
    ? (quoted[0] ?? '')
    : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

function numberType(schema: Schema): string {
  const kind = schema.isInt ? 'integer' : 'number';
  const min = schema.minValue;
  const max = schema.maxValue;
  const checks = (schema.def.checks ?? []).map((c) => c._zod.def);
  const exclusiveMin = checks.some(
    (c) => c.check === 'greater_than' && (c as { inclusive?: boolean }).inclusive === false,
  );
  // An integer's safe-integer bounds are no limit a reader needs to see.
  const bounded = (n: number | null | undefined): n is number =>
    n != null && Math.abs(n) < Number.MAX_SAFE_INTEGER;
  const exclusiveMax = checks.some(
    (c) => c.check === 'less_than' && (c as { inclusive?: boolean }).inclusive === false,
  );
  if (bounded(min) && bounded(max))
    return exclusiveMin || exclusiveMax
      ? `${kind} ${exclusiveMin ? '>' : '>='} ${min} and ${exclusiveMax ? '<' : '<='} ${max}`
      : `${kind} ${min}..${max}`;
  if (bounded(min)) return `${kind} ${exclusiveMin ? '>' : '>='} ${min}`;
  return kind;
}

function stringType(schema: Schema): string {
  const checks = (schema.def.checks ?? []).map((c) => c._zod.def);
  const prefix = checks.find((c) => c.format === 'starts_with')?.prefix;
  if (prefix) return `string starting with ${code(prefix)}`;
  return checks.some((c) => c.check === 'min_length') ? 'non-empty string' : 'string';
}

/** The type of a field in words, from what its schema declares. */
export function typeOf(schema: Schema): string {
  const def = schema.def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
      return typeOf(def.innerType!);
    case 'boolean':
      return 'boolean';
    case 'string':
      return stringType(schema);
    case 'number':
      return numberType(schema);
    case 'enum':
      return choices(Object.values(def.entries ?? {}));
    case 'array':
      return `array of ${plural(def.element!)}`;
    case 'record':
      return `map of name to ${typeOf(def.valueType!)}`;
    case 'union':
      return def.options!.map(typeOf).join(' or ');
    case 'object': {
      const keys = Object.keys(def.shape ?? {});
      return keys.length <= 2
        ? `{ ${keys.map((k) => `${k}: ${typeOf(def.shape![k]!)}`).join(', ')} }`
        : 'object';
    }
    case 'unknown':
    case 'any':
      return 'any';
    default:
      return def.type;
  }
}

function plural(schema: Schema): string {
  if (unwrap(schema).def.type === 'object') return 'objects';
  const type = typeOf(schema);
  return type.endsWith('string') ? `${type}s` : type;
}

function unwrap(schema: Schema): Schema {
  const { type, innerType } = schema.def;
  return (type === 'optional' || type === 'nullable' || type === 'default') && innerType
    ? unwrap(innerType)
    : schema;
}

/** Every field of the config, depth first in the schema's order. */
export function configFields(schema: Schema = tokenfuseOptionsSchema as unknown as Schema): {
  field: ConfigField;
  schema: Schema;
}[] {
  const out: { field: ConfigField; schema: Schema }[] = [];
  const walk = (object: Schema, prefix: string) => {
    for (const [key, child] of Object.entries(unwrap(object).def.shape ?? {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      const inner = unwrap(child);
      const required = child.def.type !== 'optional';
      // An object is documented field by field, unless the descriptions give it one row.
      if (inner.def.type === 'object' && !CONFIG_DESCRIPTIONS[path]) {
        walk(inner, path);
        continue;
      }
      out.push({ field: { path, type: typeOf(child), required }, schema: child });
      if (inner.def.type === 'array') {
        const element = unwrap(inner.def.element!);
        if (element.def.type === 'object') walk(element, `${path}[]`);
      }
    }
  };
  walk(schema, '');
  return out;
}

/** The default of `path` in CONFIG_DEFAULTS, rendered, or undefined when it has none there. */
function defaultOf(path: string): string | undefined {
  if (path.includes('[]')) return undefined;
  let value: unknown = CONFIG_DEFAULTS;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || !(key in value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  if (Array.isArray(value)) return code(`[${value.join(', ')}]`);
  if (typeof value === 'object' || value === undefined) return undefined;
  return code(String(value));
}

/** The options table: one row per field of the schema. */
export function configReference(): string {
  const rows = configFields().map(({ field, schema }) => {
    const words = CONFIG_DESCRIPTIONS[field.path];
    const fallback = field.required ? 'required' : 'none';
    return [
      code(field.path),
      words?.type ?? field.type,
      words?.default ?? defaultOf(field.path) ?? fallback,
      words?.env ? code(words.env) : '',
      unwrapDescription(schema) ??
        words?.description ??
        '(not described yet: add it to scripts/docs/config-descriptions.ts)',
    ];
  });
  return markdownTable(['Option', 'Type', 'Default', 'Environment variable', 'Meaning'], rows);
}

function unwrapDescription(schema: Schema): string | undefined {
  return schema.description ?? unwrap(schema).description;
}
