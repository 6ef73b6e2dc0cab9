/**
 * The audit log from the configuration:
 *   auditLogFile=<path>  JSON lines appended to the file (directories created); the file must
 *                        open at start or the start fails; later write failures are logged loudly
 *                        and retried (see sink.ts)
 *   auditLogFile=-       JSON lines on stdout
 *   auditLogFile=        disabled: a warning at start; refused when authenticationEnabled or
 *                        authorizationEnabled is true (a secured gateway always audits)
 * Every line is hash-chained (chain.ts), continuing the existing file's chain;
 * auditLogSigningKeyFile adds signed checkpoints at rotation and stop.
 */
import type { GatewayConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import { droppedRecordLine, JsonAuditLog } from './audit-log.js';
import { FileAuditSink, StdoutAuditSink, type AuditSink } from './sink.js';
import { AuditFileInUse, lockAuditFile } from './file-lock.js';
import { AuditChain, AuditKeyError, readCheckpointKey, resumeChain, type CheckpointKey } from './chain.js';

export { AUDIT_SCHEMA_VERSION, JsonAuditLog, auditText, droppedRecordLine, visibleIdentity, type JsonAuditLogOptions } from './audit-log.js';
export {
  AuditChain,
  AuditKeyError,
  CHECKPOINT_EVENT,
  parseCheckpointKey,
  readCheckpointKey,
  resumeChain,
  chainStatePath,
  type CheckpointKey,
} from './chain.js';
export { verifyAuditLog, type VerifyResult } from './verify.js';
export { FileAuditSink, MemoryAuditSink, StdoutAuditSink, type AuditSink, type AuditSinkStats, type FileAuditSinkOptions } from './sink.js';

type AuditConfig = Pick<GatewayConfig, 'auditLogFile' | 'auditSummaryIntervalMs' | 'authorizationEnabled' | 'authenticationEnabled' | 'kafkaNodeId'> &
  Partial<Pick<GatewayConfig, 'auditAggregationIntervalMs' | 'auditLogSigningKeyFile'>>;

export class AuditConfigError extends Error {
  override name = 'AuditConfigError';
}

/** Open the audit log, or null when it is disabled. Rejects when the file cannot be opened. */
export async function createAuditLog(config: AuditConfig, log: Logger): Promise<JsonAuditLog | null> {
  const target = config.auditLogFile.trim();
  const options = { nodeId: config.kafkaNodeId, summaryIntervalMs: config.auditSummaryIntervalMs, aggregationIntervalMs: config.auditAggregationIntervalMs ?? 60_000 };
  if (target === '') {
    if (config.authorizationEnabled || config.authenticationEnabled) {
      throw new AuditConfigError(
        'auditLogFile is empty but authenticationEnabled/authorizationEnabled is true: a secured gateway must keep an audit log (set a file, or - for stdout)',
      );
    }
    log.warn('audit log DISABLED (auditLogFile is empty): authentications and access decisions are not recorded');
    return null;
  }
  let key: CheckpointKey | null = null;
  const keyFile = (config.auditLogSigningKeyFile ?? '').trim();
  if (keyFile !== '') {
    try {
      key = await readCheckpointKey(keyFile);
    } catch (err) {
      throw new AuditConfigError(`auditLogSigningKeyFile: ${(err as AuditKeyError).message}`);
    }
    if (!key.sign) throw new AuditConfigError(`auditLogSigningKeyFile '${keyFile}' holds a public key: checkpoints are signed with the private key (or an HMAC secret)`);
  }
  if (target === '-') {
    log.info('audit log on stdout (auditLogFile=-)');
    return new JsonAuditLog(new StdoutAuditSink(process.stdout, new AuditChain({ prev: null, key, nodeId: config.kafkaNodeId })), options);
  }
  let release: () => Promise<void>;
  try {
    release = await lockAuditFile(target);
  } catch (err) {
    if (err instanceof AuditFileInUse) throw new AuditConfigError(`auditLogFile '${target}': ${err.message}`);
    throw new AuditConfigError(`auditLogFile '${target}' cannot be opened for appending: ${(err as Error).message}`);
  }
  let file: FileAuditSink;
  let chain: AuditChain;
  try {
    chain = new AuditChain({ prev: await resumeChain(target), key, nodeId: config.kafkaNodeId });
    file = await FileAuditSink.open(target, {
      logger: log.child({ component: 'audit' }),
      droppedLine: (count, since) => droppedRecordLine(count, since, config.kafkaNodeId),
      chain,
    });
  } catch (err) {
    await release();
    throw new AuditConfigError(`auditLogFile '${target}' cannot be opened for appending: ${(err as Error).message}`);
  }
  // the lock goes with the sink
  const sink: AuditSink = {
    write: (line) => file.write(line),
    flush: (timeoutMs) => file.flush(timeoutMs),
    close: async () => {
      await file.close();
      await release();
    },
    get stats() {
      return file.stats;
    },
  };
  log.info(
    { auditLogFile: target, chainContinues: chain.last !== null, signedCheckpoints: key ? `${key.alg} keyId ${key.keyId}` : null },
    'audit log opened (hash-chained)',
  );
  return new JsonAuditLog(sink, options);
}
