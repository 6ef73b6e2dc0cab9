#!/usr/bin/env node
/**
 * kop-gateway command line.
 *   kop-gateway start [--config FILE]   start the gateway (Ctrl-C / SIGTERM stops it gracefully)
 *   kop-gateway config check FILE       validate a configuration file and exit
 *   kop-gateway tokens <command>        Pulsar token keys and tokens, as `pulsar tokens` (src/cli/tokens.ts)
 *   kop-gateway policies check DIR      validate tenant policy files and print their grants
 *   kop-gateway certs create [...]      create/reuse development TLS certificates (src/cli/certs.ts)
 *   kop-gateway --help | --version
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger } from './logger.js';
import { Gateway } from './server.js';
import { SCHEMA, envName } from './config/schema.js';
import { devProfileBanner, isUnconfigured, prepareDevProfile } from './profiles/dev-secure.js';
import { devCertFiles } from './security/dev-certs.js';
import { policiesCommand } from './cli/policies.js';
import { certsCommand } from './cli/certs.js';

const USAGE = `Usage:
  kop-gateway start [--config FILE]   start the gateway
  kop-gateway config check FILE       validate a configuration file
  kop-gateway tokens <command>        create/validate/show Pulsar tokens and keys (tokens --help)
  kop-gateway policies check DIR      validate tenant policy files, print their grants
  kop-gateway certs create [--dir D] [--host H]...   development TLS certificates (certs --help)
  kop-gateway --version

Configuration: a Java-properties file (broker.conf style keys) and/or
environment variables KOP_<UPPER_SNAKE_KEY>, e.g. KOP_KAFKA_LISTENERS.
See the README's configuration reference.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function start(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
  // No configuration at all: the secure development profile (SASL_SSL, tokens, authorization, audit).
  const configEnv = new Set(Object.keys(SCHEMA).map(envName));
  const profile = isUnconfigured(values.config, process.env, configEnv) ? await prepareDevProfile() : null;
  const config = loadConfig(profile ? { overrides: profile.overrides } : { file: values.config });
  const log = createLogger(config.logLevel, config.logPretty);
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(config, { logger: log });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'kop-gateway failed to start');
    log.flush?.();
    return 1;
  }
  if (profile) {
    const caFile = devCertFiles(config.tlsDevCertsDirectory).caCertFile;
    process.stderr.write(devProfileBanner(profile, `127.0.0.1:${gateway.port()}`, caFile) + '\n');
  }
  let signals = 0;
  const shutdown = (signal: string) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    log.info({ signal, timeoutMs: config.gracefulShutdownTimeoutMs }, 'shutting down: finishing in-flight requests');
    gateway.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return -1; // keep running
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case 'tokens':
      return (await import('./cli/tokens.js')).runTokensCli(rest);
    case 'certs':
      return certsCommand(rest);
    case 'config':
      if (rest[0] === 'check' && rest[1]) {
        loadConfig({ file: rest[1] });
        process.stdout.write(`${rest[1]}: configuration is valid\n`);
        return 0;
      }
      break;
    case 'policies':
      return policiesCommand(rest);
    case '--version':
    case '-v':
      process.stdout.write(`${version()}\n`);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`kop-gateway: ${(err as Error).message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`kop-gateway: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
