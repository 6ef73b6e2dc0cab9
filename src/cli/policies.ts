/**
 * `kop-gateway policies check DIR|FILE...`: validate tenant policy files and
 * print what each grants (and `policies explain`, src/cli/explain.ts). Exit 0 when every file is valid, 1 when any is
 * invalid (or two files define one tenant), 2 on usage errors.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describePolicy, isPolicyFileName, PolicyError, tenantOfFileName } from '../security/authz/policy.js';
import { readPolicyFile } from '../security/authz/file-source.js';

const USAGE = `Usage:
  kop-gateway policies check DIR|FILE...   validate tenant policy files (<tenant>.json/.yaml/.yml)
                                           and print what each grants; exit 1 if any is invalid
  kop-gateway policies explain ...         the decision for a principal or token, an action and a
                                           resource, and the rule behind it (policies explain --help)`;

export interface Output {
  write(text: string): unknown;
}

export async function policiesCommand(argv: string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  const [sub, ...targets] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    out.write(`${USAGE}\n`);
    return 0;
  }
  if (sub === 'explain') return (await import('./explain.js')).explainCommand(targets, out, err);
  if (sub !== 'check' || targets.length === 0) {
    err.write(`${USAGE}\n`);
    return 2;
  }
  const files: string[] = [];
  for (const target of targets) {
    let st;
    try {
      st = await stat(target);
    } catch (e) {
      err.write(`kop-gateway policies: cannot read ${target}: ${(e as Error).message}\n`);
      return 2;
    }
    if (st.isDirectory()) {
      const names = (await readdir(target)).filter(isPolicyFileName).sort();
      for (const n of names) files.push(join(target, n));
      if (names.length === 0) out.write(`${target}: no policy files (*.json, *.yaml, *.yml)\n`);
    } else {
      files.push(target);
    }
  }

  let invalid = 0;
  const byTenant = new Map<string, string[]>();
  for (const file of files) {
    try {
      const { policy } = await readPolicyFile(file);
      byTenant.set(policy.tenant, [...(byTenant.get(policy.tenant) ?? []), file]);
      out.write(`${file}: OK\n`);
      for (const line of describePolicy(policy)) out.write(`  ${line}\n`);
    } catch (e) {
      invalid++;
      const message = e instanceof PolicyError ? e.message : `${file}: ${(e as Error).message}`;
      err.write(`${message}\n`);
      out.write(`${file}: INVALID (tenant ${tenantOfFileName(file)})\n`);
    }
  }
  let conflicts = 0;
  for (const [tenant, paths] of byTenant) {
    if (paths.length > 1) {
      conflicts++;
      err.write(`tenant ${tenant} is defined by ${paths.join(' and ')}: keep one file per tenant\n`);
    }
  }
  const ok = files.length - invalid;
  out.write(`${files.length} file(s): ${ok} valid, ${invalid} invalid${conflicts ? `, ${conflicts} tenant(s) defined twice` : ''}\n`);
  return invalid > 0 || conflicts > 0 ? 1 : 0;
}
