/**
 * `kop-gateway audit verify [--key FILE] FILE...`: proves that an audit log (or a
 * rotated series, oldest first) is complete and unmodified (src/security/audit/verify.ts).
 *
 * Exit codes: 0 verified and ends where the gateway stopped; 1 broken (the first
 * broken line is named); 3 intact but open-ended (still being written, a crash, or
 * lines cut off the end); 2 usage error, unreadable file or key.
 */
import { access } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AuditKeyError, readCheckpointKey, type CheckpointKey } from '../security/audit/chain.js';
import { verifyAuditLog } from '../security/audit/verify.js';
import type { Output } from './policies.js';

const USAGE = `Usage:
  kop-gateway audit verify [--key FILE] FILE...
      Verify audit log files (a rotated series oldest first: audit.log.2 audit.log.1 audit.log):
      every record's hash, the chain from each record to the one before it, and with --key the
      signature of every checkpoint (an Ed25519 public or private PEM key, or the HMAC secret
      of auditLogSigningKeyFile). Exit 0: complete and unmodified up to the gateway's stop;
      1: broken (the first broken line is named); 3: intact but not ended by a stop (still
      being written, a crash, or lines cut off the end); 2: usage or unreadable file/key.`;

export async function auditCommand(argv: string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    out.write(`${USAGE}\n`);
    return 0;
  }
  if (sub !== 'verify') {
    err.write(`${USAGE}\n`);
    return 2;
  }
  let values: { key?: string | undefined; help?: boolean | undefined };
  let files: string[];
  try {
    const parsed = parseArgs({ args: rest, options: { key: { type: 'string', short: 'k' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    values = parsed.values;
    files = parsed.positionals;
  } catch (e) {
    err.write(`kop-gateway audit verify: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out.write(`${USAGE}\n`);
    return 0;
  }
  if (files.length === 0) {
    err.write(`${USAGE}\n`);
    return 2;
  }
  for (const f of files) {
    try {
      await access(f);
    } catch (e) {
      err.write(`kop-gateway audit verify: cannot read ${f}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  let key: CheckpointKey | null = null;
  if (values.key !== undefined) {
    try {
      key = await readCheckpointKey(values.key);
    } catch (e) {
      err.write(`kop-gateway audit verify: ${e instanceof AuditKeyError ? e.message : (e as Error).message}\n`);
      return 2;
    }
  }
  const r = await verifyAuditLog(files, key);
  const notes: string[] = [];
  if (r.unchainedPrefix > 0) notes.push(`${r.unchainedPrefix} line(s) at the start were written before the chain existed and are not covered`);
  if (r.startsMidChain) notes.push('the first record continues a chain whose earlier files were not given: records before it are not covered');
  if (r.checkpoints > 0 && !key) notes.push(`${r.checkpoints} checkpoint signature(s) not checked (give --key)`);
  for (const n of notes) out.write(`note: ${n}\n`);
  const sigs = key ? `, ${r.signaturesChecked} signed checkpoint(s) verified (${key.alg} keyId ${key.keyId})` : '';
  switch (r.outcome) {
    case 'ok':
      out.write(`OK: ${r.records} record(s) in ${files.length} file(s) are complete and unmodified${sigs}; last hash ${r.lastHash}\n`);
      return 0;
    case 'open':
      out.write(`OPEN: ${r.records} record(s) verified${sigs}, but ${r.file}:${r.line}: ${r.reason}\n`);
      return 3;
    case 'broken':
      out.write(`BROKEN: ${r.file}:${r.line}: ${r.reason} (${r.records} record(s) before it verified)\n`);
      return 1;
  }
}
