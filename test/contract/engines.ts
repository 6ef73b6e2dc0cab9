/**
 * The engines the storage contract suite (test/contract/*.test.ts) runs on:
 * the embedded engine in a temporary directory, and the Pulsar engine on the
 * run's shared real broker in both entry formats. A `Store` is one engine's
 * durable state (a data directory, or a Pulsar namespace plus its metadata
 * namespace); `open()` starts a new engine instance on it, so closing one and
 * opening the next is a restart.
 *
 * Where an engine's behaviour differs by design (docs/pulsar-engine.md), the
 * difference is a trait here and the case asserts the documented behaviour.
 */
import { test } from 'node:test';
import type { StorageEngine } from '../../src/storage/engine.js';
import { EmbeddedEngine } from '../../src/storage/embedded/engine.js';
import { PulsarEngine } from '../../src/storage/pulsar/engine.js';
import { createPulsarAdmin } from '../../src/pulsar/admin/index.js';
import { createPulsarClient } from '../../src/pulsar/client/index.js';
import { tempDir } from '../unit/storage-fixtures.test.js';
import { createNamespace, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';

export interface Traits {
  /**
   * retention.ms / retention.bytes are enforced by the engine (embedded), or
   * stored and shown but left to Pulsar's namespace/topic retention policies
   * (pulsar: docs/pulsar-engine.md "Topic configs").
   */
  enforcesRetention: boolean;
}

export interface Store {
  /** A full topic name in this store's namespace, unique per call. */
  topic(prefix: string): string;
  /** A new started engine instance on this store (close the previous one first to model a restart). */
  open(): Promise<StorageEngine>;
  /** Run time/size retention now (engines that enforce it). */
  enforceRetention(engine: StorageEngine): Promise<void>;
  cleanup(): Promise<void>;
}

export interface EngineUnderTest {
  name: string;
  traits: Traits;
  /** Why this engine cannot run here (the cases skip with it in their name). */
  skip: string | undefined;
  store(): Promise<Store>;
}

const embedded: EngineUnderTest = {
  name: 'embedded',
  traits: { enforcesRetention: true },
  skip: undefined,
  async store() {
    const d = tempDir('kop-contract-');
    return {
      topic: (prefix) => `persistent://public/default/${uniqueName(prefix)}`,
      async open() {
        const e = new EmbeddedEngine({ dataDirectory: d.path, retentionCheckIntervalMs: 0 });
        await e.start();
        return e;
      },
      async enforceRetention(e) {
        await (e as EmbeddedEngine).runRetention();
      },
      async cleanup() {
        d.cleanup();
      },
    };
  },
};

function pulsar(entryFormat: 'kafka' | 'pulsar'): EngineUnderTest {
  return {
    name: `pulsar (entryFormat=${entryFormat})`,
    traits: { enforcesRetention: false },
    skip: pulsarSkipReason(),
    async store() {
      const p = await sharedPulsar();
      const ns = await createNamespace(p, uniqueName(`contract-${entryFormat}`));
      const meta = await createNamespace(p, uniqueName(`contract-${entryFormat}-meta`));
      const open: PulsarEngine[] = [];
      return {
        topic: (prefix) => `persistent://${ns}/${uniqueName(prefix)}`,
        async open() {
          const token = () => p.adminToken;
          const e = new PulsarEngine({
            client: createPulsarClient({ serviceUrl: p.serviceUrl, auth: { method: 'token', token }, operationTimeoutMs: 15_000 }),
            admin: createPulsarAdmin({ webServiceUrl: p.webUrl, token, timeoutMs: 15_000 }),
            entryFormat,
            metadataNamespace: meta,
            nodeId: 0,
            operationTimeoutMs: 15_000,
          });
          open.push(e);
          await e.start();
          return e;
        },
        async enforceRetention() {
          // Pulsar's retention policies apply (docs/pulsar-engine.md); the gateway runs none
        },
        async cleanup() {
          for (const e of open) await e.close().catch(() => undefined);
        },
      };
    },
  };
}

export const ENGINES: EngineUnderTest[] = [embedded, pulsar('kafka'), pulsar('pulsar')];

export interface ContractContext {
  store: Store;
  traits: Traits;
  engineName: string;
}

/**
 * One contract case, registered once per engine: `run` gets a fresh store and
 * must close the engines it opens (the store's cleanup closes what is left).
 */
export function contract(name: string, run: (c: ContractContext) => Promise<void>, options: { timeout?: number } = {}): void {
  for (const eut of ENGINES) {
    const title = `[${eut.name}] ${name}`;
    if (eut.skip) {
      test(`${title} [skipped: ${eut.skip}]`, { skip: eut.skip }, () => undefined);
      continue;
    }
    test(title, { timeout: options.timeout ?? 120_000 }, async () => {
      const store = await eut.store();
      try {
        await run({ store, traits: eut.traits, engineName: eut.name });
      } finally {
        await store.cleanup();
      }
    });
  }
}
