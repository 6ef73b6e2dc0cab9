#!/usr/bin/env node
/**
 * kop-gateway command line.
 *   kop-gateway start [--config FILE]   start the gateway (Ctrl-C / SIGTERM / SIGHUP stop it gracefully)
 *   kop-gateway config check FILE       validate a configuration file and exit
 *   kop-gateway tokens <command>        Pulsar token keys and tokens, as `pulsar tokens` (src/cli/tokens.ts)
 *   kop-gateway policies check DIR      validate tenant policy files and print their grants
 *   kop-gateway policies explain ...    the decision for (principal, action, resource) and the rule behind it
 *   kop-gateway audit verify FILE...    prove an audit log (series) complete and unmodified (src/cli/audit.ts)
 *   kop-gateway certs create [...]      create/reuse development TLS certificates (src/cli/certs.ts)
 *   kop-gateway --help | --version
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger } from './logger.js';
import { Gateway } from './server.js';
import { SCHEMA, envName } from './config/schema.js';
import { decideProfile, devProfileBanner, prepareDevProfile } from './profiles/dev-secure.js';
import { launcherChain, startedByNpm, watchLauncher } from './cli/launcher-watch.js';
import { checkConfiguration } from './config/check.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { devCertFiles } from './security/dev-certs.js';
import { tuneHeap } from './ops/heap.js';
import { policiesCommand } from './cli/policies.js';
import { certsCommand } from './cli/certs.js';

const USAGE = `Usage:
  kop-gateway start [--config FILE]   start the gateway
  kop-gateway config check FILE       validate a configuration file
  kop-gateway tokens <command>        create/validate/show Pulsar tokens and keys (tokens --help)
  kop-gateway policies check DIR      validate tenant policy files, print their grants
  kop-gateway policies explain ...    a decision and the rule behind it (policies --help)
  kop-gateway audit verify FILE...    prove audit log files complete and unmodified (audit --help)
  kop-gateway certs create [--dir D] [--host H]...   development TLS certificates (certs --help)
  kop-gateway --version

Configuration: a Java-properties file (broker.conf style keys) and/or
environment variables KOP_<UPPER_SNAKE_KEY>, e.g. KOP_KAFKA_LISTENERS.
See the README's configuration reference.`;

const START_USAGE = `Usage: kop-gateway start [--config FILE]

Starts the gateway in the foreground; SIGTERM, SIGINT (Ctrl-C) and SIGHUP stop it
gracefully (in-flight requests finish within gracefulShutdownTimeoutMs), exit 0.

Without a configuration file and without KOP_* variables of security settings it
runs the secure development profile (SASL_SSL on 127.0.0.1:9092, tokens,
authorization, audit log, metrics on http://127.0.0.1:8085). KOP_LOG_LEVEL,
KOP_LOG_PRETTY, KOP_OPS_LISTENER and other keys that do not change the security
posture are applied on top of the profile.

  -c, --config FILE   Java-properties configuration file (broker.conf style keys)
  -h, --help          this text

Production: run it directly (node dist/src/cli.js start --config FILE, or the
kop-gateway bin), not through npm; see docs/operations.md.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function start(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    process.stdout.write(`${START_USAGE}\n`);
    return 0;
  }
  // No security configuration: the secure development profile (SASL_SSL, tokens, authorization, audit).
  const decision = decideProfile(values.config, process.env, profileSafety());
  const profile = decision.on ? await prepareDevProfile() : null;
  const config = loadConfig(profile ? { overrides: profile.overrides } : { file: values.config });
  tuneHeap(config.heapGrowingPercent);
  const log = createLogger(config.logLevel, config.logPretty);
  if (profile && decision.applied.length > 0) {
    log.info({ applied: decision.applied }, 'secure development profile, with these KOP_* settings on top (they do not change the security posture)');
  } else if (!profile) {
    const fromEnv = decision.offBecause.filter((r) => r.startsWith('KOP_'));
    log.warn(
      { configFile: values.config ?? null, securitySettingsFromEnvironment: fromEnv },
      values.config
        ? `secure development profile OFF: configuration from ${values.config}${fromEnv.length ? ` and ${fromEnv.join(', ')}` : ''}; only the security settings given apply`
        : `SECURE DEVELOPMENT PROFILE OFF because of ${fromEnv.join(', ')}: these change the security posture, so the gateway starts from the broker.conf defaults (PLAINTEXT, no authentication) plus what is set. Unset them to get the development profile back.`,
    );
  }
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
    const connectFile = join(config.dataDirectory, 'dev', 'connect.txt');
    const banner = devProfileBanner(profile, `127.0.0.1:${gateway.port()}`, caFile, gateway.ops?.url ?? null, connectFile, gateway.schemaRegistry?.url ?? null);
    process.stderr.write(banner + '\n');
    // The banner scrolls away under the log in a terminal: keep it in a file too.
    await writeFile(connectFile, banner.replace(/^\n/, '') + '\n', { mode: 0o600 }).catch((err: unknown) => log.warn({ err: (err as Error).message, connectFile }, 'could not write the connection details file'));
  }
  let firstSignalAt = 0;
  const shutdown = (signal: string) => {
    if (firstSignalAt > 0) {
      // The same stop delivered twice (to the process group and passed on by npm) is not a second request.
      if (Date.now() - firstSignalAt < 1000) {
        log.debug({ signal }, 'signal repeated within 1 s: already shutting down');
        return;
      }
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    firstSignalAt = Date.now();
    log.info({ signal, timeoutMs: config.gracefulShutdownTimeoutMs }, 'shutting down: finishing in-flight requests');
    gateway.stop().then(
      () => {
        log.info({ exitCode: 0 }, 'kop-gateway exiting');
        log.flush?.();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        log.flush?.();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => shutdown('SIGHUP')); // the terminal went away
  if (startedByNpm()) {
    // npm does not pass SIGTERM on to the gateway: stop when npm (or the shell under it) is gone.
    const chain = launcherChain();
    log.debug({ launcher: chain }, 'started through npm: watching the npm process');
    watchLauncher(chain, (pid) => shutdown(`launcher process ${pid} exited`));
  }
  return -1; // keep running
}

/** KOP_<KEY> -> whether the key may be set on top of the development profile. */
function profileSafety(): Map<string, boolean> {
  return new Map(Object.entries(SCHEMA).map(([key, spec]) => [envName(key), 'profileSafe' in spec && spec.profileSafe === true]));
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
        // What start checks, short of binding ports: keys and values, listeners, key and certificate files, token keys, policies, audit file.
        const problems = await checkConfiguration(loadConfig({ file: rest[1] }));
        for (const p of problems.warnings) process.stdout.write(`${rest[1]}: warning: ${p}\n`);
        if (problems.errors.length > 0) {
          for (const p of problems.errors) process.stderr.write(`${rest[1]}: ${p}\n`);
          return 1;
        }
        process.stdout.write(`${rest[1]}: configuration is valid\n`);
        return 0;
      }
      break;
    case 'policies':
      return policiesCommand(rest);
    case 'audit':
      return (await import('./cli/audit.js')).auditCommand(rest);
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
