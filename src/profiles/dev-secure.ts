/**
 * The zero-setup profile of `kop-gateway start` without any configuration:
 * secure by default, not open by default.
 *
 *   - a SASL_SSL listener on 127.0.0.1:9092 with development certificates
 *     (a dev CA and server certificate made under certs/ on first start);
 *   - authentication with Pulsar tokens: a dev HMAC secret key made once under
 *     <dataDirectory>/dev/, and a token for the superuser role `admin`
 *     written next to it and printed for the user;
 *   - authorization with Pulsar's model from policies/, and the audit log;
 *   - the operations listener (metrics, health) on http://127.0.0.1:8085;
 *   - the schema registry on https://127.0.0.1:8001 (same certificate and tokens).
 *
 * A --config file, or a KOP_* variable of a key that can change the security
 * posture, turns the profile off (then the defaults are Pulsar's broker.conf
 * defaults), and the start says so loudly. KOP_* variables of keys marked
 * `profileSafe` in the schema (log level, shutdown timing, metrics) are applied
 * on top of the profile: changing the log level never changes the posture.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SignJWT } from 'jose';

export const DEV_SUPERUSER = 'admin';
const DEV_PORT = 9092;
export const DEV_OPS_LISTENER = 'http://127.0.0.1:8085';
export const DEV_SCHEMA_REGISTRY_PORT = 8001;

export interface DevProfile {
  overrides: Record<string, string | number | boolean>;
  tokenFile: string;
  token: string;
  secretKeyFile: string;
}

async function readOrCreate(file: string, make: () => Promise<Buffer> | Buffer): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const value = await make();
  await writeFile(file, value, { mode: 0o600, flush: true });
  await chmod(file, 0o600);
  return value;
}

/** Prepare the dev secret key and superuser token (once) and return the profile's settings. */
export async function prepareDevProfile(dataDirectory = './data'): Promise<DevProfile> {
  const devDir = resolve(dataDirectory, 'dev');
  await mkdir(devDir, { recursive: true, mode: 0o700 });
  const secretKeyFile = join(devDir, 'token-secret.key');
  const secret = await readOrCreate(secretKeyFile, () => randomBytes(32));
  const tokenFile = join(devDir, `${DEV_SUPERUSER}.token`);
  // A token as `pulsar tokens create --subject admin` makes it: HS256, sub only, no expiry.
  const token = (await readOrCreate(tokenFile, async () => Buffer.from(await new SignJWT({ sub: DEV_SUPERUSER }).setProtectedHeader({ alg: 'HS256' }).sign(secret)))).toString('utf8').trim();
  return {
    secretKeyFile,
    tokenFile,
    token,
    overrides: {
      kafkaListeners: `SASL_SSL://127.0.0.1:${DEV_PORT}`,
      dataDirectory,
      authenticationEnabled: true,
      authorizationEnabled: true,
      superUserRoles: DEV_SUPERUSER,
      tokenSecretKey: `file://${secretKeyFile}`,
      opsListener: DEV_OPS_LISTENER,
      kopSchemaRegistryEnable: true,
      kopSchemaRegistryPort: DEV_SCHEMA_REGISTRY_PORT,
      schemaRegistryBindAddress: '127.0.0.1',
      schemaRegistryTlsEnabled: true,
    },
  };
}

export interface ProfileDecision {
  /** Run the secure development profile. */
  on: boolean;
  /** KOP_* variables applied on top of the profile (their keys are profileSafe). */
  applied: string[];
  /** Why the profile is off: the --config file and/or the variables of posture-changing keys. */
  offBecause: string[];
}

/**
 * Whether `start` runs the development profile. `configEnv` maps each
 * configuration variable (KOP_<KEY>) to whether its key is profileSafe; other
 * KOP_* variables (tooling) do not count.
 */
export function decideProfile(file: string | undefined, env: NodeJS.ProcessEnv, configEnv: ReadonlyMap<string, boolean>): ProfileDecision {
  const present = Object.keys(env)
    .filter((name) => configEnv.has(name) && env[name] !== undefined)
    .sort();
  const posture = present.filter((name) => !configEnv.get(name));
  const offBecause = [...(file !== undefined ? [`--config ${file}`] : []), ...posture];
  return { on: offBecause.length === 0, applied: offBecause.length === 0 ? present : [], offBecause };
}

/** What the user needs to connect, printed once the gateway is up. */
export function devProfileBanner(p: DevProfile, bootstrap: string, caFile: string, ops: string | null, connectFile?: string, schemaRegistry?: string | null): string {
  return [
    '',
    '  kop-gateway is running with the secure development profile (no configuration given).',
    ...(connectFile ? [`  (This text is also in ${connectFile}.)`] : []),
    `  Bootstrap:        ${bootstrap} (SASL_SSL)`,
    `  CA certificate:   ${caFile}`,
    `  Superuser token:  ${p.tokenFile}  (role "${DEV_SUPERUSER}")`,
    `  Token secret key: ${p.secretKeyFile}`,
    ...(ops ? [`  Metrics, health:  ${ops}/metrics  ${ops}/health/ready`] : []),
    ...(schemaRegistry ? [`  Schema registry:  ${schemaRegistry}  (HTTP Basic: user public/default, password token:<token>)`] : []),
    '',
    '  Try it with kcat:',
    `    kcat -b ${bootstrap} -X security.protocol=SASL_SSL -X ssl.ca.location=${caFile} \\`,
    `         -X sasl.mechanisms=PLAIN -X sasl.username=public/default -X sasl.password=token:$(cat ${p.tokenFile}) -L`,
    '  Java clients: security.protocol=SASL_SSL, ssl.truststore.type=PEM, ssl.truststore.location=<CA certificate>,',
    '    sasl.mechanism=PLAIN, sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required',
    '    username="public/default" password="token:<token>";',
    ...(schemaRegistry
      ? [
          '  Schema registry with curl:',
          `    curl --cacert ${caFile} -u "public/default:token:$(cat ${p.tokenFile})" ${schemaRegistry}/subjects`,
        ]
      : []),
    '  Grant other roles in policies/ (see policies/README.md); make tokens with `kop-gateway tokens create`.',
    '',
  ].join('\n');
}
