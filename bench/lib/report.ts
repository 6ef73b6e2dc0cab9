/** The markdown report of one benchmark run (the JSON file holds the same data, unrounded). */
import { PERF_JVM_ARGS } from '../kafka-reference/perf.js';
import { TXN_DURATION_MS, type BenchReport, type RunResult } from './plan.js';
import type { TargetId } from './targets.js';

type Better = 'higher' | 'lower';

interface Row {
  label: string;
  better: Better;
  values: Map<TargetId, number | undefined>;
  digits: number;
}

function fmt(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  if (digits === 0) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—';
  const r = a / b;
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

function sizeLabel(size: number): string {
  return size % 1024 === 0 ? `${size / 1024} KiB` : `${size} B`;
}

function find(runs: RunResult[], t: TargetId, kind: RunResult['kind'], size: number, acks?: 'all' | 1): RunResult | undefined {
  return runs.find((r) => r.target === t && r.kind === kind && r.size === size && (acks === undefined || r.acks === acks) && !r.error);
}

function isNative(t: TargetId): boolean {
  return t === 'pulsar-native' || t === 'pulsar-native-window';
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

export function resultRows(r: BenchReport): Row[] {
  const ids = r.targets.filter((t) => !(t.starts.length > 0 && t.starts.every((s) => s.skipped))).map((t) => t.id);
  const rows: Row[] = [];
  const add = (label: string, better: Better, digits: number, get: (t: TargetId) => number | undefined) =>
    rows.push({ label, better, digits, values: new Map(ids.map((id) => [id, get(id)])) });
  for (const size of r.options.sizes) {
    const s = sizeLabel(size);
    const cpuPerRecord = (x: RunResult | undefined) =>
      x?.cpu?.serverCpuS !== undefined ? (x.cpu.serverCpuS / x.records) * 1e6 : undefined;
    // the Pulsar broker's share: the broker is the whole server of a native target, a part of a gateway-pulsar target's
    const pulsarRun = (x: RunResult | undefined) => x?.cpu?.brokerCpuS !== undefined || (x !== undefined && isNative(x.target));
    const brokerPerRecord = (x: RunResult | undefined) => {
      if (!x?.cpu || !pulsarRun(x)) return undefined;
      const b = x.cpu.brokerCpuS ?? x.cpu.serverCpuS;
      return b !== undefined ? (b / x.records) * 1e6 : undefined;
    };
    const hasPulsar = r.runs.some((x) => x.size === size && pulsarRun(x));
    for (const acks of ['all', 1] as const) {
      add(`${s} produce acks=${acks}: records/s`, 'higher', 0, (t) => find(r.runs, t, 'produce', size, acks)?.producer?.recordsPerSec);
      add(`${s} produce acks=${acks}: MB/s`, 'higher', 2, (t) => find(r.runs, t, 'produce', size, acks)?.producer?.mbPerSec);
      add(`${s} produce acks=${acks}: server CPU µs/record`, 'lower', 1, (t) => cpuPerRecord(find(r.runs, t, 'produce', size, acks)));
      if (hasPulsar && acks === 'all') {
        add(`${s} produce acks=all: Pulsar broker CPU µs/record`, 'lower', 1, (t) => brokerPerRecord(find(r.runs, t, 'produce', size, acks)));
      }
    }
    if (r.runs.some((x) => x.kind === 'produce-franz' && x.size === size)) {
      // the native Pulsar targets have no Kafka client: their row holds their own producer's acks=all figures
      const franz = (t: TargetId) => (isNative(t) ? find(r.runs, t, 'produce', size, 'all') : find(r.runs, t, 'produce-franz', size));
      add(`${s} produce acks=all, franz-go client (native: the Pulsar client): records/s`, 'higher', 0, (t) => franz(t)?.producer?.recordsPerSec);
      add(`${s} produce acks=all, franz-go client: server CPU µs/record`, 'lower', 1, (t) => cpuPerRecord(franz(t)));
      if (hasPulsar) add(`${s} produce acks=all, franz-go client: Pulsar broker CPU µs/record`, 'lower', 1, (t) => brokerPerRecord(franz(t)));
    }
    if (r.runs.some((x) => x.kind === 'produce-txn' && x.size === size)) {
      const txn = (t: TargetId) => find(r.runs, t, 'produce-txn', size);
      add(`${s} transactional produce (${TXN_DURATION_MS} ms transactions): records/s`, 'higher', 0, (t) => txn(t)?.producer?.recordsPerSec);
      add(`${s} transactional produce: MB/s`, 'higher', 2, (t) => txn(t)?.producer?.mbPerSec);
      add(`${s} transactional produce: server CPU µs/record`, 'lower', 1, (t) => cpuPerRecord(txn(t)));
    }
    const rate = r.latencyRates[String(size)];
    const lat = (t: TargetId) => find(r.runs, t, 'latency', size)?.producer;
    for (const [name, key] of [
      ['p50', 'p50Ms'],
      ['p95', 'p95Ms'],
      ['p99', 'p99Ms'],
      ['p99.9', 'p999Ms'],
    ] as const) {
      add(`${s} produce latency acks=all @ ${fmt(rate, 0)} rec/s: ${name} ms`, 'lower', 0, (t) => lat(t)?.[key]);
    }
    // the same records at the same rate for every target: CPU per record without the pacing of each one's maximum rate
    add(`${s} produce @ ${fmt(rate, 0)} rec/s: server CPU µs/record`, 'lower', 1, (t) => cpuPerRecord(find(r.runs, t, 'latency', size)));
    if (hasPulsar) add(`${s} produce @ ${fmt(rate, 0)} rec/s: Pulsar broker CPU µs/record`, 'lower', 1, (t) => brokerPerRecord(find(r.runs, t, 'latency', size)));
    add(`${s} consume: records/s (fetch)`, 'higher', 0, (t) => find(r.runs, t, 'consume', size)?.consumer?.fetchRecordsPerSec);
    add(`${s} consume: MB/s (fetch)`, 'higher', 2, (t) => find(r.runs, t, 'consume', size)?.consumer?.fetchMbPerSec);
    add(`${s} consume: MB/s incl. group join`, 'higher', 2, (t) => find(r.runs, t, 'consume', size)?.consumer?.mbPerSec);
    add(`${s} consume: server CPU µs/record`, 'lower', 1, (t) => cpuPerRecord(find(r.runs, t, 'consume', size)));
  }
  return rows;
}

export function renderMarkdown(r: BenchReport): string {
  const out: string[] = [];
  const p = (s = '') => out.push(s);
  const m = r.machine;
  const tl = r.tools;
  // targets skipped on this machine (Pulsar targets without the Pulsar jars) get no column, only a note
  const ids = r.targets.filter((t) => !(t.starts.length > 0 && t.starts.every((s) => s.skipped))).map((t) => t.id);
  const label = (id: TargetId) => r.targets.find((t) => t.id === id)!.label;
  const gatewayIds = ids.filter((id) => id !== 'kafka' && id !== 'kafka-sasl-ssl');
  const hasKafka = ids.includes('kafka');
  const isPulsar = (id: TargetId) => id === 'gateway-pulsar' || id === 'gateway-pulsar-kafka';
  const pulsarIds = ids.filter(isPulsar);
  // the native Pulsar client on the same broker: what the gateway on Pulsar is measured against
  const nativeIds = ids.filter((id) => id === 'pulsar-native' || id === 'pulsar-native-window');
  const nativePairs = pulsarIds.flatMap((g) => nativeIds.map((n) => [g, n] as const));

  p(`# ${r.title}`);
  p();
  p(
    `Run ${r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}, ${r.durationS} s, \`${r.command}\`` +
      (r.options.quick ? ' — **quick mode: small record counts, a smoke check, not figures to quote**' : '') +
      '.',
  );
  p();

  // ------------------------------------------------------------ results
  p('## Results');
  p();
  p(
    'Apache Kafka\'s own load generators (`ProducerPerformance`, `ConsumerPerformance`) against each target, one target at a time. ' +
      'Produce figures are the steady-state line (after the warm-up records). MB = 2^20 bytes of record values, as the tools count. ' +
      (hasKafka ? 'Ratio = gateway ÷ Kafka: above 1 is better for throughput, below 1 is better for latency and CPU. ' : '') +
      '"server CPU µs/record" is the CPU time of the server process over the whole run (warm-up included) per record: ' +
      'less sensitive than the rates to other processes on the machine, though the JVM\'s varies from run to run (JIT, GC).' +
      (pulsarIds.length ? ' For the Pulsar targets it is the gateway\'s CPU plus the Pulsar broker\'s (both serve the records); the "Pulsar broker CPU" rows are the broker\'s part alone.' : '') +
      ' The "produce @ N rec/s" CPU rows are of the latency runs, where every target gets the same records at the same rate: per-record costs compare there ' +
      'without the pacing of each target\'s own maximum rate (a server that receives its entries in bursts wakes its threads fewer times per entry).' +
      (nativeIds.length
        ? ' The native Pulsar rows are a Pulsar Java client producing and reading on the same broker (no gateway): their server CPU is the broker\'s; ' +
          'gateway (Pulsar) ÷ native compares the gateway on Pulsar with Pulsar itself (with the client\'s default window of 1000 messages, and with the Kafka producer\'s window).'
        : ''),
  );
  p();
  // The price of security: the SASL_SSL gateway against the same gateway over PLAINTEXT (both interval flush).
  const hasSecurityPair = ids.includes('gateway-sasl-ssl') && ids.includes('gateway-interval');
  // Like for like over SASL_SSL: the gateway's SASL_SSL target against Kafka with a SASL_SSL listener.
  const hasKafkaSaslPair = ids.includes('gateway-sasl-ssl') && ids.includes('kafka-sasl-ssl');
  // The price of metrics: the same gateway with metrics collected and scraped, against metrics off.
  const hasMetricsPair = ids.includes('gateway-metrics') && ids.includes('gateway');
  const header = [
    'figure',
    'better',
    ...ids.map(label),
    ...(hasKafka ? gatewayIds.map((g) => `${label(g)} ÷ Kafka`) : []),
    ...(hasSecurityPair ? ['SASL_SSL ÷ PLAINTEXT (interval)'] : []),
    ...(hasKafkaSaslPair ? ['gateway SASL_SSL ÷ Kafka SASL_SSL'] : []),
    ...(hasMetricsPair ? ['metrics on ÷ off'] : []),
    ...nativePairs.map(([g, n]) => `${label(g)} ÷ ${label(n)}`),
  ];
  const rows = resultRows(r).map((row) => [
    row.label,
    row.better,
    ...ids.map((id) => fmt(row.values.get(id), row.digits)),
    ...(hasKafka ? gatewayIds.map((g) => ratio(row.values.get(g), row.values.get('kafka'))) : []),
    ...(hasSecurityPair ? [ratio(row.values.get('gateway-sasl-ssl'), row.values.get('gateway-interval'))] : []),
    ...(hasKafkaSaslPair ? [ratio(row.values.get('gateway-sasl-ssl'), row.values.get('kafka-sasl-ssl'))] : []),
    ...(hasMetricsPair ? [ratio(row.values.get('gateway-metrics'), row.values.get('gateway'))] : []),
    ...nativePairs.map(([g, n]) => ratio(row.values.get(g), row.values.get(n))),
  ]);
  p(table(header, rows));

  // ------------------------------------------------------------ resources
  p('## Server CPU and memory');
  p();
  p(
    'CPU seconds used by the server process (gateway node process, Kafka broker JVM) during each run (the run includes the load ' +
      'generator JVM start, ~1 s), and per record. "Other" is CPU used by processes outside this benchmark during the run, as a share ' +
      `of the machine (${m.cores} cores): above ~10%, figures are disturbed.`,
  );
  p();
  const resRows: string[][] = [];
  const runLabel = (x: RunResult) =>
    `${sizeLabel(x.size)} ${x.kind}${x.acks !== undefined ? ` acks=${x.acks}` : ''}${x.kind === 'latency' ? ` @ ${fmt(x.throughputArg, 0)}/s` : ''}`;
  const seen = new Set<string>();
  for (const x of r.runs) {
    const key = runLabel(x);
    if (seen.has(key)) continue;
    seen.add(key);
    resRows.push([
      key,
      ...ids.map((id) => {
        const y = r.runs.find((z) => z.target === id && runLabel(z) === key);
        if (!y?.cpu) return '—';
        const c = y.cpu;
        const per = c.serverCpuS !== undefined ? `${((c.serverCpuS / y.records) * 1e6).toFixed(1)} µs/rec` : '?';
        const other = c.otherShare !== undefined ? `${(c.otherShare * 100).toFixed(0)}%` : '?';
        const broker = c.brokerCpuS !== undefined ? ` (Pulsar broker ${c.brokerCpuS.toFixed(1)} s)` : '';
        return `${c.serverCpuS?.toFixed(1) ?? '?'} s${broker}, ${per}; wall ${c.wallS.toFixed(1)} s; other ${other}`;
      }),
    ]);
  }
  p(table(['run', ...ids.map(label)], resRows));
  const startRows: string[][] = [];
  for (const t of r.targets) {
    for (const s of t.starts) {
      if (s.skipped) continue;
      startRows.push([
        t.label,
        s.phase,
        (s.error ? 'FAILED' : `${s.startupMs} ms`) + (s.pulsarStartupMs !== undefined ? ` (after starting the Pulsar broker: ${s.pulsarStartupMs} ms)` : ''),
        (s.peakRssMiB !== undefined ? `${s.peakRssMiB} MiB` : '—') +
          (s.brokerPeakRssMiB !== undefined ? ` + Pulsar broker ${s.brokerPeakRssMiB} MiB (since its start)` : ''),
        String(s.warnings.length),
      ]);
    }
  }
  p(table(['target', 'phase', 'startup', 'peak RSS', 'warn/error log lines'], startRows));

  // ------------------------------------------------------------ notes
  p('## Notes');
  p();
  const notes: string[] = [];
  notes.push(
    'Durability differs by target. The gateway\'s default (`embeddedFlushPolicy=every-batch`) fsyncs before it acknowledges a produce ' +
      '(acks=1 and acks=all alike), so a crash loses nothing acknowledged. Kafka by default does **not** fsync per batch: it acknowledges ' +
      'after writing to the page cache and relies on replication (one replica here) and the OS for durability. ' +
      '`embeddedFlushPolicy=interval` is the gateway\'s equivalent of that, so **gateway (interval) ÷ Kafka is the like-for-like ratio**; ' +
      'gateway (every-batch) ÷ Kafka shows the price of fsync-before-ack on this disk.',
  );
  if (pulsarIds.length && r.pulsar) {
    const c = r.pulsar.conf;
    notes.push(
      'The Pulsar targets store every record in an Apache Pulsar ' +
        `${r.pulsar.version} standalone broker on this machine (scripts/pulsar/standalone.sh: broker and bookie in one JVM, -Xmx${r.pulsar.heap}, ` +
        `direct memory ${r.pulsar.directMemory}), started by the benchmark and shared by both Pulsar targets of a phase; each gateway start uses a fresh namespace. ` +
        `**Durability is not that of gateway (every-batch)**: the bookie's journal is written without fsync (journalSyncData=${c.journalSyncData ?? '?'}, ` +
        `journalMaxGroupWaitMSec=${c.journalMaxGroupWaitMSec ?? '?'}) on one bookie (ensemble/write/ack quorum ${c.managedLedgerDefaultEnsembleSize ?? '?'}/` +
        `${c.managedLedgerDefaultWriteQuorum ?? '?'}/${c.managedLedgerDefaultAckQuorum ?? '?'}), so an acknowledged record survives a gateway or broker process crash ` +
        'but not an OS crash or power loss before the page cache is written back — the same class as Kafka\'s defaults and gateway (interval). ' +
        'A production Pulsar cluster (journalSyncData=true, write quorum 2-3 on separate bookies) pays a network round trip and an fsync per entry that this setup does not. ' +
        `Broker deduplication is on (brokerDeduplicationEnabled=${c.brokerDeduplicationEnabled ?? '?'}), as the gateway's idempotent producers expect. ` +
        'Each produce request goes gateway → broker → bookie → broker → gateway before the acknowledgement, all on this machine, so the three processes (client JVM, gateway, broker JVM) share its cores.',
    );
    notes.push(
      '`entryFormat=pulsar` converts every Kafka batch into a Pulsar batch message (one Pulsar message per record, readable by Pulsar consumers) and back on fetch; ' +
        '`entryFormat=kafka` stores the Kafka batch as it arrived (Pulsar consumers cannot read it). The difference between the two columns is the price of the conversion.',
    );
  }
  if (r.franz) {
    notes.push(
      r.franz.skipped
        ? `**The franz-go produce rows were not run**: ${r.franz.skipped}.`
        : 'The "franz-go client" rows produce the same records with the same window (5 requests of 16 KiB batches in flight, linger 5 ms, acks=all) from ' +
            '[franz-go](https://github.com/twmb/franz-go) (bench/franz-perf) instead of Kafka\'s Java ProducerPerformance, whose client CPU on a small machine ' +
            'caps it near Apache Kafka\'s own rate: they show how fast each server takes records when the client is not the limit. franz-go allows one ' +
            'request in flight with idempotence, so these runs are not idempotent. PLAINTEXT targets only; the native Pulsar targets show their own producer there.',
    );
  }
  for (const t of r.targets) {
    const skipped = t.starts.find((s) => s.skipped);
    if (skipped) notes.push(`**${t.label} was not run**: ${skipped.skipped}.`);
  }
  if (m.fsync) {
    notes.push(
      `This disk: append 4 KiB + fdatasync takes ${m.fsync.p50Ms.toFixed(2)} ms (median; p99 ${m.fsync.p99Ms.toFixed(2)} ms), so one ` +
        `partition written with fsync-before-ack completes at most ~${Math.round(1000 / m.fsync.p50Ms).toLocaleString('en-US')} flush rounds/s; ` +
        'group commit puts every batch that arrived during a round into the next one.',
    );
  }
  notes.push(
    'Latency runs offer the same fixed rate to every target (' +
      Object.entries(r.latencyRates)
        .map(([s, v]) => `${sizeLabel(Number(s))}: ${fmt(v, 0)} records/s`)
        .join(', ') +
      `, i.e. ${r.options.latencyFraction} × the slowest selected target's acks=all throughput), so the percentiles are service time, not queueing ` +
      'in an overloaded producer. Unthrottled produce runs report throughput only: their latencies are mostly queueing and are left out (they are in the JSON).',
  );
  notes.push(
    'Consume reads the topic written by the acks=all produce run, from the start, right after it was written (from the page cache in both systems). ' +
      '"fetch" figures exclude the consumer group join; "incl. group join" is the tool\'s overall MB.sec.',
  );
  if (r.runs.some((x) => x.kind === 'produce-txn')) {
    notes.push(
      `Transactional produce: ProducerPerformance with \`--transactional-id\` and \`--transaction-duration-ms ${TXN_DURATION_MS}\` (a commit every ${TXN_DURATION_MS} ms, ` +
        'Kafka Streams\' exactly_once_v2 commit interval), acks=all, the same records and producer settings as the other produce runs; each commit ' +
        'writes markers to the partition and the transaction state through the coordinator (on the gateway: its key-value state), so the rate includes them. ' +
        'Not run for the native Pulsar client (no Kafka transactions).',
    );
  }
  notes.push(
    `Load generators and servers share the machine (${m.cores} cores): the client JVM uses CPU the server cannot. ` +
      'Figures compare the targets on this machine in this run; absolute numbers on a bigger machine with separate client hosts are higher.',
  );
  if (tl.gatewayDirty) {
    notes.push(
      `The gateway was built from commit ${tl.gatewayCommit} **plus uncommitted changes** in src/ (${tl.gatewayDirtyFiles.length} files: ` +
        tl.gatewayDirtyFiles.slice(0, 12).map((f) => `\`${f}\``).join(', ') +
        (tl.gatewayDirtyFiles.length > 12 ? ', ...' : '') +
        ').',
    );
  }
  const waits = r.runs.map((x) => x.quietWait).filter((w): w is NonNullable<RunResult['quietWait']> => w !== undefined);
  if (waits.length) {
    const total = waits.reduce((a, w) => a + w.waitedMs, 0) / 1000;
    const busy = waits.filter((w) => !w.quiet).length;
    notes.push(
      `Before each run the benchmark waited for a quiet machine (all CPU use at most 15% over 1 s, up to ${r.options.quietWaitS} s per run): ` +
        `${total.toFixed(0)} s of waiting in total${busy ? `; **${busy} run(s) started on a busy machine**` : ''}.`,
    );
  }
  if (r.discardedRuns.length) {
    const replaced = r.runs.filter((x) => (x.attempt ?? 1) > 1);
    notes.push(
      `${r.discardedRuns.length} attempt(s) disturbed by other processes were repeated (\`--retries ${r.options.retries}\`); ` +
        'the tables show the least disturbed attempt of each run, the JSON has all of them' +
        (replaced.length ? ` (a repeat was kept for: ${replaced.map((x) => `${label(x.target)} ${runLabel(x)}`).join('; ')})` : '') +
        '.',
    );
  }
  if (r.otherCpuShareMax !== undefined && r.otherCpuShareMax > 0.1) {
    const noisy = r.runs.filter((x) => (x.cpu?.otherShare ?? 0) > 0.1);
    notes.push(
      `**Other processes used up to ${(r.otherCpuShareMax * 100).toFixed(0)}% of the machine** during ${noisy.length} run(s) ` +
        `(${noisy
          .slice(0, 8)
          .map((x) => `${label(x.target)} ${runLabel(x)}`)
          .join('; ')}${noisy.length > 8 ? '; ...' : ''}): those figures are disturbed; rerun on a quiet machine.`,
    );
  }
  for (const x of r.runs) {
    if (x.error) notes.push(`**${label(x.target)} ${runLabel(x)} failed**: ${x.error.split('\n').slice(0, 3).join(' ')}`);
    for (const n of x.notes) notes.push(`${label(x.target)} ${runLabel(x)}: ${n}.`);
  }
  // server log lines at warn level and above, the same message once with where it appeared
  const byMessage = new Map<string, string[]>();
  for (const t of r.targets) {
    for (const s of t.starts) {
      if (s.error) notes.push(`**${t.label} failed to start (${s.phase})**: ${s.error.split('\n')[0]}`);
      for (const line of s.warnings) {
        let msg = line;
        try {
          const o = JSON.parse(line) as { msg?: string; level?: number };
          if (o.msg) msg = `${o.level !== undefined && o.level >= 50 ? 'ERROR ' : ''}${o.msg}`;
        } catch {
          // not a JSON log line: the line itself
        }
        msg = msg.slice(0, 300).replace(/`/g, "'");
        const where = byMessage.get(msg) ?? [];
        where.push(`${t.label} ${s.phase}`);
        byMessage.set(msg, where);
      }
    }
  }
  for (const [msg, where] of byMessage) {
    notes.push(`Server log (warn and above): \`${msg}\` — ${where.length}× (${[...new Set(where)].join('; ')}).`);
  }
  for (const n of notes) p(`- ${n}`);
  p();

  // ------------------------------------------------------------ setup
  p('## Machine');
  p();
  const mrows: string[][] = [
    ['CPU', `${m.cpuModel}${m.virtualization ? ` (${m.virtualization} guest)` : ''}`],
    ['cores', String(m.cores)],
    ['memory', `${m.memoryGiB} GiB`],
    ['OS', m.os],
    ['kernel', m.kernel],
    ['data directories', `${m.dataDir} (${m.dataFilesystem ?? '?'} on ${m.dataDevice ?? '?'}, ${m.diskFreeGiB ?? '?'} GiB free)`],
  ];
  if (m.fsync) mrows.push(['4 KiB append + fdatasync', `p50 ${m.fsync.p50Ms.toFixed(2)} ms, p99 ${m.fsync.p99Ms.toFixed(2)} ms (${m.fsync.samples} samples)`]);
  mrows.push(['load average (1/5/15 min)', `start ${m.loadAvgAtStart.join(' / ')}, end ${r.loadAvgAtEnd.join(' / ')}`]);
  p(table(['', ''], mrows));

  p('## Tools');
  p();
  p(
    table(
      ['', ''],
      [
        ['Node.js', tl.node],
        ['Java', tl.java],
        ['Apache Kafka', `${tl.kafkaVersion} from Maven Central (${tl.kafkaClientsJar ?? 'kafka-clients jar not found'}; broker \`kafka_2.13\`, tools \`kafka-tools\`)`],
        ['load generators', `\`org.apache.kafka.tools.ProducerPerformance\` / \`ConsumerPerformance\` ${tl.kafkaVersion}, JVM \`${PERF_JVM_ARGS.join(' ')}\``],
        ['gateway', `kop-gateway ${tl.gatewayVersion}, commit ${tl.gatewayCommit}${tl.gatewayDirty ? ' + uncommitted changes' : ''}, \`node dist/src/cli.js start\` (separate process)`],
        ...(pulsarIds.length && r.pulsar
          ? [
              [
                'Apache Pulsar',
                `${r.pulsar.version} standalone from the Maven Central jars (scripts/pulsar/fetch-pulsar.sh, started by scripts/pulsar/standalone.sh), ` +
                  Object.entries(r.pulsar.conf)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', '),
              ],
            ]
          : []),
        ['producer', Object.entries(r.producerSettings).map(([k, v]) => `${k}=${v}`).join(', ')],
        ...(r.franz && !r.franz.skipped ? [['second producer', Object.entries(r.franz.settings).map(([k, v]) => `${k}: ${v}`).join(', ')]] : []),
        ['consumer', Object.entries(r.consumerSettings).map(([k, v]) => `${k}=${v}`).join(', ')],
      ],
    ),
  );

  p('## Targets');
  p();
  for (const t of r.targets.filter((x) => ids.includes(x.id))) {
    p(`- **${t.label}**: ${t.durability}. ${Object.entries(t.settings).map(([k, v]) => `\`${k}=${v}\``).join(', ')}`);
  }
  p(
    '- Gateway, both policies: `node dist/src/cli.js start` with a PLAINTEXT listener on a free port of 127.0.0.1, a fresh data directory, ' +
      'the audit log on (default) into a temp file, every other setting at its default (no authentication or authorization on a PLAINTEXT listener).',
  );
  if (pulsarIds.length) {
    p(
      '- Pulsar targets: the same gateway command with `storageEngine=pulsar` against the benchmark\'s Pulsar standalone broker (token authentication as role admin), ' +
        'a fresh namespace per gateway start (`kafkaNamespace`, and `<namespace>-meta` for the gateway\'s own state); each auto-created topic is a Pulsar partitioned topic of one partition.',
    );
  }
  p(
    '- Both run on the same machine with their data in a fresh temporary directory on the same disk; one topic of one partition per run, ' +
      'auto-created by the producer; each target is started for its runs and stopped before the next one starts.',
  );
  p();
  const counts = r.options.sizes
    .map((s) => {
      const prod = r.runs.find((x) => x.kind === 'produce' && x.size === s);
      const lat = r.runs.find((x) => x.kind === 'latency' && x.size === s);
      return (
        `${sizeLabel(s)}: ${fmt(prod?.records, 0)} records per unthrottled produce run (first ${fmt(prod?.warmupRecords, 0)} are warm-up)` +
        (lat ? `, latency ${fmt(lat.records, 0)} records (first ${fmt(lat.warmupRecords, 0)} warm-up)` : '')
      );
    })
    .join('; ');
  p(
    `Record counts: ${counts}. Before the throughput runs each target gets an unmeasured warm-up ` +
      '(per record size: as many records as the warm-up part of a run, produced with acks=1 and consumed) so that both JITs (JVM, V8) are warm; ' +
      'a Pulsar broker, when it starts, first gets the same with the native Pulsar client and (when the run has gateway-pulsar targets) through a gateway, so that no Pulsar target pays the broker\'s JIT.',
  );
  p();
  return out.join('\n');
}
