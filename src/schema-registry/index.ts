/**
 * The Confluent-compatible schema registry served by the gateway process
 * (docs/schema-registry.md): its own HTTP(S) listener (kopSchemaRegistryEnable,
 * kopSchemaRegistryPort, schemaRegistryBindAddress, schemaRegistryTlsEnabled),
 * the gateway's authentication, authorization and audit log, and its state
 * in the storage engine (an ordered log replayed by every node: log.ts,
 * state.ts).
 *
 * Files: http.ts (listener, pipeline), auth.ts (who and may they), core.ts
 * (shared checks), api-subjects.ts, api-schemas.ts, api-compatibility.ts,
 * api-config.ts (the REST API families), state.ts + log.ts (data),
 * compatibility.ts + formats/ (Avro, JSON Schema, Protobuf).
 */
import type { GatewayConfig } from '../config/schema.js';
import type { SecurityServices } from '../gateway-context.js';
import type { Logger } from '../logger.js';
import type { ListenerSpec } from '../network/listeners.js';
import type { TlsManager } from '../security/tls/index.js';
import type { StorageEngine } from '../storage/engine.js';
import type { EngineWiring } from '../storage/wiring.js';
import type { NamespaceRef } from '../topics/names.js';
import { compatibilityRoutes } from './api-compatibility.js';
import { configRoutes } from './api-config.js';
import { schemaRoutes } from './api-schemas.js';
import { subjectRoutes } from './api-subjects.js';
import { RegistryAuth } from './auth.js';
import { RegistryCore } from './core.js';
import { RegistryHttpServer, type Route } from './http.js';
import type { RegistryLog } from './log.js';
import { RegistryState } from './state.js';
import { parseCompatibility } from './types.js';

export const ROUTES: Route[] = [...schemaRoutes, ...subjectRoutes, ...compatibilityRoutes, ...configRoutes];

/** The listener as a TLS spec for TlsManager.create (its certificate is the Kafka listeners'), when TLS is on. */
export function schemaRegistryTlsSpecs(config: GatewayConfig): ListenerSpec[] {
  if (!config.kopSchemaRegistryEnable || !config.schemaRegistryTlsEnabled) return [];
  return [{ name: 'SCHEMA_REGISTRY', protocol: 'SSL', host: config.schemaRegistryBindAddress, port: config.kopSchemaRegistryPort }];
}

export interface SchemaRegistryDeps {
  config: GatewayConfig;
  storage: StorageEngine;
  /** The engine's wiring: where the registry's log lives (storage/wiring.ts). */
  wiring: Pick<EngineWiring, 'schemaRegistryLog'>;
  security: SecurityServices;
  tls: TlsManager | null;
  defaults: NamespaceRef;
  log: Logger;
}

export class SchemaRegistry {
  private constructor(
    readonly http: RegistryHttpServer,
    readonly core: RegistryCore,
    private readonly registryLog: RegistryLog,
  ) {}

  /** Null when kopSchemaRegistryEnable=false. */
  static async start(d: SchemaRegistryDeps): Promise<SchemaRegistry | null> {
    const c = d.config;
    if (!c.kopSchemaRegistryEnable) return null;
    const log = d.log.child({ component: 'schema-registry' });
    const state = new RegistryState({
      maxVersionsPerContext: c.schemaRegistryMaxVersionsPerNamespace,
      defaultCompatibility: parseCompatibility(c.schemaRegistryDefaultCompatibility) ?? 'BACKWARD',
    });
    const registryLog: RegistryLog = d.wiring.schemaRegistryLog(state, log);
    await registryLog.start();
    const core = new RegistryCore(state, registryLog, { maxSchemaBytes: c.schemaRegistryMaxSchemaBytes, maxReferences: 100 });
    const auth = new RegistryAuth(d.security, d.defaults);
    const http = new RegistryHttpServer(
      {
        host: c.schemaRegistryBindAddress,
        port: c.kopSchemaRegistryPort,
        tls: c.schemaRegistryTlsEnabled,
        maxRequestBytes: c.schemaRegistryMaxRequestBytes,
        maxConnections: c.schemaRegistryMaxConnections,
        registrationsPerSecond: c.schemaRegistryRegistrationsPerSecond,
      },
      ROUTES,
      core,
      auth,
      d.tls,
      log,
    );
    try {
      await http.listen();
    } catch (err) {
      await registryLog.close();
      throw err;
    }
    if (!auth.enabled) log.warn({ url: http.url }, 'schema registry without authentication (authenticationEnabled=false): every caller is anonymous in kafkaTenant/kafkaNamespace');
    log.info({ url: http.url, storage: d.storage.kind }, 'schema registry listening');
    return new SchemaRegistry(http, core, registryLog);
  }

  get url(): string {
    return this.http.url;
  }

  async close(): Promise<void> {
    await this.http.close();
    await this.registryLog.close();
  }
}
