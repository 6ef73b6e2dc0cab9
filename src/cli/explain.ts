/**
 * `kop-gateway policies explain`: the decision the gateway would make for a
 * principal (or a token, validated with the configured keys), an action and a
 * resource, and the exact rule behind it (the grant, tenant admin or superuser
 * rule, or what was looked at when nothing matched), against the live policy
 * source of the configuration: the policies/ files, or Pulsar's admin API with
 * storageEngine=pulsar. The authorizer is the gateway's own (createAuthorizer),
 * so the explanation is the one a denial's audit record carries as `rule`.
 *
 * Exit codes: 0 allowed, 1 denied, 2 usage, configuration or token error.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { silentLogger } from '../logger.js';
import { createAuthorizer, describeResource } from '../security/authz/index.js';
import { createTokenValidator } from '../security/tokens/index.js';
import { AuthenticationError, type AuthAction, type AuthResource } from '../security/types.js';
import { NameError, nameProblem, parseNamespace, resolveTopic, showName } from '../topics/names.js';
import type { Output } from './policies.js';

export const EXPLAIN_USAGE = `Usage:
  kop-gateway policies explain [--config FILE] (--principal ROLE | --token JWT | --token-file F | --anonymous)
      --action produce|consume|lookup|admin
      (--topic NAME [--subscription GROUP] | --group TENANT/NS/GROUP | --namespace TENANT/NS | --tenant T | --cluster)
  The decision and the exact rule behind it (grant, tenant admin, superuser, or why nothing
  matched), from the configured policy source: the policiesDirectory files, or Pulsar's admin
  API with storageEngine=pulsar (the brokerClient* credentials). A token is validated with the
  configured keys (tokenSecretKey, tokenPublicKey, openID*) and its role claim is the principal.
  --topic: persistent://tenant/ns/topic, tenant/ns/topic, or a short name in kafkaTenant/kafkaNamespace.
  A group is checked in its home namespace (name it). Exit 0: allowed; 1: denied; 2: error.`;

const ACTIONS: readonly AuthAction[] = ['produce', 'consume', 'lookup', 'admin'];

export interface ExplainOptions {
  /** Configuration instead of --config/KOP_* (tests). */
  config?: GatewayConfig;
}

export async function explainCommand(argv: string[], out: Output = process.stdout, err: Output = process.stderr, options: ExplainOptions = {}): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        principal: { type: 'string', short: 'p' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        anonymous: { type: 'boolean' },
        action: { type: 'string', short: 'a' },
        topic: { type: 'string' },
        subscription: { type: 'string' },
        group: { type: 'string' },
        namespace: { type: 'string' },
        tenant: { type: 'string' },
        cluster: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    err.write(`kop-gateway policies explain: ${(e as Error).message}\n${EXPLAIN_USAGE}\n`);
    return 2;
  }
  if (v.help) {
    out.write(`${EXPLAIN_USAGE}\n`);
    return 0;
  }
  const usage = (msg: string) => {
    err.write(`kop-gateway policies explain: ${msg}\n${EXPLAIN_USAGE}\n`);
    return 2;
  };
  const who = ['principal', 'token', 'token-file', 'anonymous'].filter((k) => v[k] !== undefined);
  if (who.length !== 1) return usage('give exactly one of --principal, --token, --token-file, --anonymous');
  const what = ['topic', 'group', 'namespace', 'tenant', 'cluster'].filter((k) => v[k] !== undefined);
  if (what.length !== 1) return usage('give exactly one of --topic, --group, --namespace, --tenant, --cluster');
  const action = v.action as AuthAction | undefined;
  if (!action || !ACTIONS.includes(action)) return usage(`--action must be one of ${ACTIONS.join(', ')}`);
  if (v.subscription !== undefined && v.topic === undefined) return usage('--subscription goes with --topic');

  let config: GatewayConfig;
  try {
    config = options.config ?? loadConfig({ file: v.config as string | undefined });
  } catch (e) {
    err.write(`kop-gateway policies explain: ${(e as Error).message}\n`);
    return 2;
  }

  let resource: AuthResource;
  try {
    resource = parseResource(v, config);
  } catch (e) {
    return usage(e instanceof NameError ? e.message : (e as Error).message);
  }

  let principal: string | null;
  let identity = '';
  if (v.anonymous) {
    principal = null;
    identity = ' (not authenticated)';
  } else if (v.principal !== undefined) {
    principal = v.principal as string;
  } else {
    let jwt = v.token as string | undefined;
    if (jwt === undefined) {
      try {
        jwt = (await import('node:fs')).readFileSync(v['token-file'] as string, 'utf8').trim();
      } catch (e) {
        err.write(`kop-gateway policies explain: cannot read ${String(v['token-file'])}: ${(e as Error).message}\n`);
        return 2;
      }
    }
    jwt = jwt.replace(/^token:/, '');
    try {
      const validated = await createTokenValidator(config).validate(jwt);
      principal = validated.role;
      const expiry = validated.expiresAt === null ? 'no expiry' : `expires ${new Date(validated.expiresAt).toISOString()}`;
      identity = ` (from the token: valid, ${expiry}${validated.tokenId ? `, jti ${JSON.stringify(validated.tokenId)}` : ''})`;
    } catch (e) {
      if (e instanceof ConfigError) {
        err.write(`kop-gateway policies explain: cannot validate the token with this configuration: ${e.message}\n`);
        return 2;
      }
      if (e instanceof AuthenticationError) {
        out.write(`decision:  DENIED\nreason:    the token is refused at authentication: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  }

  let authz;
  try {
    authz = await createAuthorizer(config, silentLogger());
  } catch (e) {
    err.write(`kop-gateway policies explain: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    const d = await authz.authorizer.can(principal, action, resource);
    const source = !config.authorizationEnabled
      ? 'none (authorizationEnabled=false)'
      : config.storageEngine === 'pulsar'
        ? `Pulsar admin API at ${config.webServiceUrl}`
        : `policy files in ${config.policiesDirectory}`;
    out.write(
      [
        `decision:  ${d.allowed ? 'ALLOWED' : 'DENIED'}`,
        `principal: ${principal === null ? '(none)' : JSON.stringify(principal)}${identity}`,
        `action:    ${action}`,
        `resource:  ${describeResource(resource)}${resource.kind === 'topic' && resource.subscription ? ` (subscription ${JSON.stringify(resource.subscription)})` : ''}`,
        `reason:    ${d.reason}`,
        `rule:      ${d.rule ?? d.reason}`,
        `source:    ${source}`,
      ].join('\n') + '\n',
    );
    return d.allowed ? 0 : 1;
  } finally {
    await authz.close();
  }
}

function parseResource(v: Record<string, string | boolean | undefined>, config: GatewayConfig): AuthResource {
  if (v.cluster) return { kind: 'cluster' };
  if (typeof v.tenant === 'string') {
    const problem = nameProblem('tenant', v.tenant);
    if (problem) throw new NameError(v.tenant, problem);
    return { kind: 'tenant', tenant: v.tenant };
  }
  if (typeof v.namespace === 'string') return { kind: 'namespace', ...parseNamespace(v.namespace) };
  if (typeof v.group === 'string') {
    const i = v.group.indexOf('/');
    const j = i < 0 ? -1 : v.group.indexOf('/', i + 1);
    if (j < 0) throw new Error(`--group ${showName(v.group)}: expected tenant/namespace/group (the group's home namespace)`);
    const ns = parseNamespace(v.group.slice(0, j));
    const group = v.group.slice(j + 1);
    if (group === '') throw new Error('--group: empty group name');
    return { kind: 'group', ...ns, group };
  }
  const raw = v.topic as string;
  const defaults = parseNamespace(`${config.kafkaTenant}/${config.kafkaNamespace}`);
  const parts = raw.startsWith('persistent://') ? null : raw.split('/');
  const name = parts && parts.length === 3 ? resolveTopic(`persistent://${raw}`, defaults) : resolveTopic(raw, defaults);
  return v.subscription === undefined
    ? { kind: 'topic', tenant: name.tenant, namespace: name.namespace, topic: name.local }
    : { kind: 'topic', tenant: name.tenant, namespace: name.namespace, topic: name.local, subscription: v.subscription as string };
}
