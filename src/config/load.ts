/**
 * Load and validate the configuration: schema defaults < properties file <
 * environment variables (KOP_<UPPER_SNAKE_KEY>). Unknown keys and invalid
 * values fail with a message naming the key.
 */
import { readFileSync } from 'node:fs';
import convict from 'convict';
import { parseProperties } from './properties.js';
import { editDistance } from '../util/edit-distance.js';
import { SCHEMA, envName, type ConfigKey, type GatewayConfig, type KeySpec } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const INT = /^-?\d+$/;

convict.addFormat({
  name: 'kop-int',
  coerce: (v: string) => (INT.test(v.trim()) ? Number(v.trim()) : v),
  validate: (v: unknown) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error('must be an integer');
  },
});
convict.addFormat({
  name: 'kop-bool',
  coerce: (v: string) => {
    const t = v.trim().toLowerCase();
    return t === 'true' ? true : t === 'false' ? false : v;
  },
  validate: (v: unknown) => {
    if (typeof v !== 'boolean') throw new Error('must be true or false');
  },
});

function convictSchema(): Record<string, convict.SchemaObj> {
  const out: Record<string, convict.SchemaObj> = {};
  for (const [key, spec] of Object.entries(SCHEMA) as Array<[ConfigKey, KeySpec]>) {
    const format: convict.SchemaObj['format'] =
      spec.kind === 'int' ? 'kop-int' : spec.kind === 'bool' ? 'kop-bool' : spec.kind === 'enum' ? [...(spec.values ?? [])] : String;
    out[key] = { default: spec.default, doc: spec.doc, format, sensitive: spec.sensitive ?? false };
  }
  return out;
}

/** Checks convict's formats cannot express: minimums and key-specific parsing. */
function checkValue(spec: KeySpec, value: unknown): void {
  if (spec.kind === 'int' && spec.min !== undefined && (value as number) < spec.min) throw new Error(`must be >= ${spec.min}`);
  (spec.check as ((v: unknown) => void) | undefined)?.(value);
}

export interface LoadOptions {
  /** Path of a Java-properties file (broker.conf style). */
  file?: string;
  /** Extra values (strings as in a file, or typed), applied after the file. */
  overrides?: Partial<Record<string, string | number | boolean>>;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(options: LoadOptions = {}): GatewayConfig {
  const values: Record<string, unknown> = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${options.file}: ${(err as Error).message}`);
    }
    for (const entry of parseProperties(text)) {
      if (!(entry.key in SCHEMA)) {
        throw new ConfigError(`${options.file}:${entry.line}: unknown configuration key '${entry.key}'${suggest(entry.key)}`);
      }
      values[entry.key] = entry.value;
    }
  }
  for (const [k, v] of Object.entries(options.overrides ?? {})) {
    if (!(k in SCHEMA)) throw new ConfigError(`unknown configuration key '${k}'${suggest(k)}`);
    values[k] = v;
  }
  const env = options.env ?? process.env;
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('KOP_') || value === undefined) continue;
    const keys = Object.keys(SCHEMA) as ConfigKey[];
    const key = keys.find((k) => envName(k) === name);
    if (key) {
      values[key] = value;
      continue;
    }
    // Other KOP_* variables (tooling) are ignored, but a near miss of a real
    // key, like KOP_KAFKA_LISTENER, is a typo that must not be silently dropped.
    const near = keys.find((k) => editDistance(envName(k), name) <= 2);
    if (near) throw new ConfigError(`unknown environment variable ${name} (did you mean ${envName(near)}?)`);
  }

  const config = convict(convictSchema(), { env: {}, args: [] });
  try {
    config.load(values);
    config.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
  const result = config.getProperties() as GatewayConfig;
  for (const [key, spec] of Object.entries(SCHEMA) as Array<[ConfigKey, KeySpec]>) {
    const value = result[key];
    try {
      checkValue(spec, value);
    } catch (err) {
      throw new ConfigError(`invalid configuration: ${key}: ${(err as Error).message}: value was ${JSON.stringify(value)}`);
    }
  }
  const maxPartitions = result.maxNumPartitionsPerPartitionedTopic;
  if (maxPartitions > 0 && result.defaultNumPartitions > maxPartitions) {
    throw new ConfigError(`invalid configuration: defaultNumPartitions (${result.defaultNumPartitions}) exceeds maxNumPartitionsPerPartitionedTopic (${maxPartitions})`);
  }
  return result;
}

function suggest(key: string): string {
  const lower = key.toLowerCase();
  const near = Object.keys(SCHEMA).find((k) => k.toLowerCase() === lower || editDistance(k.toLowerCase(), lower) <= 2);
  return near ? ` (did you mean '${near}'?)` : '';
}
