import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Connection, type FrameHandler, type FrameResult } from '../../src/network/connection.js';
import { silentLogger } from '../../src/logger.js';
import { boundCounters } from '../../src/network/counters.js';

/** Echo handler: responds with the frame's first 4 bytes (a fake correlation id) after a delay given by byte 4. */
class EchoHandler implements FrameHandler {
  seen: Buffer[] = [];
  closedCount = 0;
  async handle(frame: Buffer): Promise<FrameResult> {
    this.seen.push(Buffer.from(frame));
    const delay = frame.length > 4 ? frame[4]! : 0;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const body = frame.subarray(0, 4);
    const out = Buffer.alloc(4 + body.length);
    out.writeInt32BE(body.length, 0);
    body.copy(out, 4);
    return { response: out, close: frame.length > 5 && frame[5] === 0xff };
  }
  closed(): void {
    this.closedCount++;
  }
}

async function withServer(
  handler: FrameHandler,
  options: { maxFrameBytes?: number; maxQueuedRequests?: number; idleTimeoutMs?: number; maxQueuedBytes?: number; requestReceiveTimeoutMs?: number },
  fn: (port: number, conns: Connection[]) => Promise<void>,
): Promise<void> {
  const conns: Connection[] = [];
  const server: Server = createServer((s) =>
    conns.push(
      new Connection(
        s,
        handler,
        {
          maxFrameBytes: options.maxFrameBytes ?? 1024,
          maxQueuedRequests: options.maxQueuedRequests ?? 100,
          idleTimeoutMs: options.idleTimeoutMs ?? 0,
          ...(options.maxQueuedBytes !== undefined ? { maxQueuedBytes: options.maxQueuedBytes } : {}),
          ...(options.requestReceiveTimeoutMs !== undefined ? { requestReceiveTimeoutMs: options.requestReceiveTimeoutMs } : {}),
        },
        silentLogger(),
        'PLAINTEXT',
      ),
    ),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await fn((server.address() as { port: number }).port, conns);
  } finally {
    for (const c of conns) c.destroy();
    server.close();
  }
}

function frame(id: number, delayMs = 0, extra: number[] = []): Buffer {
  const body = Buffer.from([0, 0, 0, 0, delayMs, ...extra]);
  body.writeInt32BE(id, 0);
  const out = Buffer.alloc(4 + body.length);
  out.writeInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** Read n response frames (4-byte ids) from a socket, leaving the socket open. */
function readIds(sock: Socket, n: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const ids: number[] = [];
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 8) {
        const len = buf.readInt32BE(0);
        if (buf.length < 4 + len) break;
        ids.push(buf.readInt32BE(4));
        buf = buf.subarray(4 + len);
      }
      if (ids.length >= n) {
        sock.off('data', onData);
        sock.off('close', onClose);
        resolve(ids);
      }
    };
    const onClose = () => reject(new Error(`socket closed after ${ids.length} of ${n} responses`));
    sock.on('data', onData);
    sock.on('close', onClose);
  });
}

test('connection: pipelined requests are answered strictly in request order, even when earlier ones are slower', async () => {
  const handler = new EchoHandler();
  await withServer(handler, {}, async (port) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(Buffer.concat([frame(1, 30), frame(2, 0), frame(3, 10), frame(4, 0)]));
    assert.deepEqual(await readIds(sock, 4), [1, 2, 3, 4]);
    sock.destroy();
  });
});

test('connection: frames split at every byte boundary are reassembled', async () => {
  const handler = new EchoHandler();
  await withServer(handler, {}, async (port) => {
    const sock = connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    await once(sock, 'connect');
    const bytes = Buffer.concat([frame(7), frame(8), frame(9)]);
    for (let i = 0; i < bytes.length; i++) {
      sock.write(bytes.subarray(i, i + 1));
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await readIds(sock, 3), [7, 8, 9]);
    assert.equal(handler.seen.length, 3);
    assert.deepEqual(handler.seen.map((f) => f.length), [5, 5, 5]);
    sock.destroy();
  });
});

test('connection: an oversized or negative size prefix closes the connection without calling the handler', async () => {
  for (const size of [1025, -5, 0x7fffffff]) {
    const handler = new EchoHandler();
    await withServer(handler, { maxFrameBytes: 1024 }, async (port) => {
      const sock = connect(port, '127.0.0.1');
      await once(sock, 'connect');
      const head = Buffer.alloc(4);
      head.writeInt32BE(size, 0);
      sock.write(head);
      await once(sock, 'close');
      assert.equal(handler.seen.length, 0, `size ${size}`);
      assert.equal(handler.closedCount, 1);
    });
  }
});

test('connection: other clients are unaffected when one sends garbage', async () => {
  const handler = new EchoHandler();
  await withServer(handler, { maxFrameBytes: 1024 }, async (port) => {
    const good = connect(port, '127.0.0.1');
    const bad = connect(port, '127.0.0.1');
    await Promise.all([once(good, 'connect'), once(bad, 'connect')]);
    bad.write(Buffer.from([0xff, 0xff, 0xff, 0x00]));
    await once(bad, 'close');
    good.write(frame(42));
    assert.deepEqual(await readIds(good, 1), [42]);
    good.destroy();
  });
});

test('connection: the handler can ask to close after its response', async () => {
  const handler = new EchoHandler();
  await withServer(handler, {}, async (port) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(Buffer.concat([frame(5, 0, [0xff]), frame(6)]));
    const ids = await readIds(sock, 1);
    assert.deepEqual(ids, [5]);
    await once(sock, 'close');
    assert.equal(handler.seen.length, 1, 'requests after the closing one are not handled');
  });
});

test('connection: back-pressure stops reading when requests queue up, and nothing is lost', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let handled = 0;
  const handler: FrameHandler = {
    async handle(frame) {
      if (handled++ === 0) await gate;
      const out = Buffer.alloc(8);
      out.writeInt32BE(4, 0);
      frame.copy(out, 4, 0, 4);
      return { response: out };
    },
  };
  await withServer(handler, { maxQueuedRequests: 4 }, async (port, conns) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const n = 2000;
    const padding = Array.from({ length: 500 }, () => 0);
    const frames = Buffer.concat(Array.from({ length: n }, (_, i) => frame(i, 0, padding)));
    sock.write(frames);
    await new Promise((r) => setTimeout(r, 100));
    const conn = conns[0]!;
    assert.ok(conn.socket.isPaused(), 'socket reading is paused while the handler is stuck');
    assert.ok(conn.bytesIn < frames.length, `read ${conn.bytesIn} of ${frames.length} bytes while blocked`);
    release();
    const ids = await readIds(sock, n);
    assert.deepEqual(ids, Array.from({ length: n }, (_, i) => i));
    sock.destroy();
  });
});

test('connection: drain() finishes in-flight requests before closing', async () => {
  const handler = new EchoHandler();
  await withServer(handler, {}, async (port, conns) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(frame(11, 50));
    await new Promise((r) => setTimeout(r, 10));
    const drained = conns[0]!.drain(5000);
    const ids = await readIds(sock, 1);
    await drained;
    assert.deepEqual(ids, [11]);
  });
});

test('connection: idle connections are closed after the idle timeout', async () => {
  const handler = new EchoHandler();
  await withServer(handler, { idleTimeoutMs: 100 }, async (port) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const t0 = Date.now();
    await once(sock, 'close');
    assert.ok(Date.now() - t0 >= 90, 'closed only after the idle timeout');
  });
});

/** Releases the connection at once, then answers after a delay given by byte 4; records concurrency. */
class ReleasingHandler implements FrameHandler {
  running = 0;
  maxRunning = 0;
  started: number[] = [];
  async handle(frame: Buffer, _conn: Connection, release?: () => void): Promise<FrameResult> {
    this.started.push(frame.readInt32BE(0));
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    if (frame[5] !== 0x01) release?.();
    const delay = frame[4]!;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    this.running--;
    const out = Buffer.alloc(8);
    out.writeInt32BE(4, 0);
    frame.copy(out, 4, 0, 4);
    return { response: out };
  }
}

test('released requests pipeline (at most 5 at once) and their responses still leave in request order', async () => {
  const handler = new ReleasingHandler();
  await withServer(handler, {}, async (port) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    // later requests finish first: 60, 50, ... ms
    const frames = Array.from({ length: 8 }, (_, i) => frame(i + 1, 80 - i * 10));
    const t0 = Date.now();
    sock.write(Buffer.concat(frames));
    const ids = await readIds(sock, 8);
    const took = Date.now() - t0;
    sock.destroy();
    assert.deepEqual(ids, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(handler.started, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(handler.maxRunning, 5, 'five requests in flight, not more');
    assert.ok(took < 80 + 70 + 60 + 50 + 40, `overlapped, not one after another (${took} ms)`);
  });
});

test('a handler that does not release keeps the connection to one request at a time', async () => {
  const handler = new ReleasingHandler();
  await withServer(handler, {}, async (port) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(Buffer.concat(Array.from({ length: 4 }, (_, i) => frame(i + 1, 20, [0x01]))));
    assert.deepEqual(await readIds(sock, 4), [1, 2, 3, 4]);
    sock.destroy();
    assert.equal(handler.maxRunning, 1);
  });
});

/** A handler whose first request waits for `open()`; the others answer at once with their 4-byte id. */
function parkingHandler(): { handler: FrameHandler; open: () => void; handled: () => number } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let handled = 0;
  const handler: FrameHandler = {
    async handle(frame) {
      if (handled++ === 0) await gate;
      const out = Buffer.alloc(8);
      out.writeInt32BE(4, 0);
      frame.copy(out, 4, 0, 4);
      return { response: out };
    },
  };
  return { handler, open, handled: () => handled };
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('connection: read-ahead behind a parked request is bounded in bytes (maxQueuedBytes), nothing is lost, and buffers are released on close', async () => {
  const { handler, open } = parkingHandler();
  const frameBytes = 64 * 1024;
  const maxQueuedBytes = 256 * 1024;
  await withServer(handler, { maxFrameBytes: 1024 * 1024, maxQueuedRequests: 500, maxQueuedBytes }, async (port, conns) => {
    const baseline = boundCounters.bufferedRequestBytes;
    const pausesBefore = boundCounters.readAheadPauses;
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const n = 100; // 6.4 MB behind the parked first request: 25 times the bound
    const padding = Array.from({ length: frameBytes - 5 }, () => 0);
    const one = frame(0, 0, padding);
    for (let i = 0; i < n; i++) {
      const f = Buffer.from(one);
      f.writeInt32BE(i, 4);
      sock.write(f);
    }
    await until('the connection to pause', () => conns[0] !== undefined && conns[0].socket.isPaused());
    await new Promise((r) => setTimeout(r, 200));
    const conn = conns[0]!;
    // the bound, plus the one frame that may complete past it, plus one socket read
    const ceiling = maxQueuedBytes + frameBytes + 64 * 1024;
    assert.ok(conn.bufferedBytes <= ceiling, `${conn.bufferedBytes} bytes read ahead, bound ${maxQueuedBytes}`);
    assert.ok(conn.queuedFrames < 10, `${conn.queuedFrames} frames queued (500 allowed by count, bytes bound them)`);
    assert.ok(boundCounters.bufferedRequestBytes - baseline <= ceiling, 'the process-wide gauge agrees');
    assert.ok(boundCounters.readAheadPauses > pausesBefore, 'the pause is counted');
    open();
    const ids = await readIds(sock, n);
    assert.deepEqual(ids, Array.from({ length: n }, (_, i) => i), 'every frame handled, in order');

    sock.destroy();
    await until('the close', () => conn.isClosed);
    assert.equal(conn.bufferedBytes, 0);
    assert.equal(boundCounters.bufferedRequestBytes, baseline, 'released on close');
  });
});

test('connection: a client gone while its read-ahead waits behind a parked request: everything is released when the request completes', async () => {
  // A paused socket is not read, so the peer's FIN is only seen once reading resumes (Kafka's muted
  // channels behave the same); until then what is held is bounded by maxQueuedBytes.
  const { handler, open } = parkingHandler();
  await withServer(handler, { maxFrameBytes: 1024 * 1024, maxQueuedBytes: 128 * 1024 }, async (port, conns) => {
    const baseline = boundCounters.bufferedRequestBytes;
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const padding = Array.from({ length: 32 * 1024 }, () => 0);
    for (let i = 0; i < 20; i++) sock.write(frame(i, 0, padding));
    await until('frames to queue', () => (conns[0]?.bufferedBytes ?? 0) > 64 * 1024);
    assert.ok(boundCounters.bufferedRequestBytes > baseline);
    assert.ok(conns[0]!.bufferedBytes <= 128 * 1024 + 2 * 33 * 1024 + 64 * 1024, `${conns[0]!.bufferedBytes} bytes held`);
    sock.destroy();
    open();
    await until('the close', () => conns[0]!.isClosed);
    assert.equal(conns[0]!.bufferedBytes, 0);
    assert.equal(boundCounters.bufferedRequestBytes, baseline, 'nothing held after close');
  });
});

test('connection: a half-sent frame closes the connection after requestReceiveTimeoutMs, trickled bytes do not extend it; whole frames are unaffected', async () => {
  const handler = new EchoHandler();
  await withServer(handler, { requestReceiveTimeoutMs: 400 }, async (port, conns) => {
    const before = boundCounters.closed.partialFrameTimeout;
    const baseline = boundCounters.bufferedRequestBytes;
    // a frame announced as 1000 bytes, sent one byte every 100 ms
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const head = Buffer.alloc(4);
    head.writeInt32BE(1000, 0);
    sock.write(head);
    const started = Date.now();
    const trickle = setInterval(() => sock.write(Buffer.from([0])), 100);
    await once(sock, 'close');
    clearInterval(trickle);
    const took = Date.now() - started;
    assert.ok(took >= 350, `closed after ${took} ms, not before the timeout`);
    assert.equal(boundCounters.closed.partialFrameTimeout, before + 1);
    await until('release', () => conns[0]!.isClosed);
    assert.equal(boundCounters.bufferedRequestBytes, baseline);

    // complete frames spaced wider than the timeout are fine: the timer runs only while a frame is partial
    const ok = connect(port, '127.0.0.1');
    await once(ok, 'connect');
    for (let i = 0; i < 3; i++) {
      ok.write(frame(i));
      assert.deepEqual(await readIds(ok, 1), [i]);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(ok.destroyed, false);
    ok.destroy();
  });
});

test('connection: before authentication frames and read-ahead are bounded by the pre-authentication size; authenticated() restores both', async () => {
  let conn!: Connection;
  const handler = new EchoHandler();
  const server: Server = createServer((s) => {
    conn = new Connection(s, handler, { maxFrameBytes: 1024 * 1024, maxQueuedRequests: 100, maxQueuedBytes: 1024 * 1024, idleTimeoutMs: 0, onAuthenticated: () => (authenticated = true) }, silentLogger(), 'SASL_PLAINTEXT');
    conn.preAuthenticationLimits(512);
  });
  let authenticated = false;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const port = (server.address() as { port: number }).port;
    const before = boundCounters.closed.preAuthFrameTooLarge;
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    await until('connection', () => conn !== undefined);
    assert.equal(conn.maxFrameBytes, 512);
    assert.equal(conn.maxQueuedBytes, 512);
    conn.authenticated();
    assert.equal(authenticated, true);
    assert.equal(conn.maxFrameBytes, 1024 * 1024);
    conn.preAuthenticationLimits(512);
    const head = Buffer.alloc(4);
    head.writeInt32BE(513, 0);
    sock.write(head);
    await once(sock, 'close');
    assert.equal(boundCounters.closed.preAuthFrameTooLarge, before + 1);
  } finally {
    server.close();
  }
});

test('connection: a response\'s written() runs once, after the socket took every part, or at once when the response is never written', async () => {
  // 1. a multi-part response larger than the socket buffers, to a client that does not read yet
  const big = Buffer.alloc(32 << 20, 7);
  let writtenCount = 0;
  let respond: 'big' | 'slow' = 'big';
  const handler: FrameHandler = {
    async handle(frame: Buffer): Promise<FrameResult> {
      if (respond === 'slow') await new Promise((r) => setTimeout(r, 50));
      const head = Buffer.alloc(8);
      head.writeInt32BE(4 + big.length, 0);
      frame.copy(head, 4, 0, 4);
      return { response: [head, big], written: () => writtenCount++ };
    },
  };
  await withServer(handler, {}, async (port) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.pause();
    sock.write(frame(1));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(writtenCount, 0, 'not while the client has not read the response');
    let got = 0;
    let sum = 0;
    sock.on('data', (chunk: Buffer) => {
      for (let i = got < 8 ? 8 - got : 0; i < chunk.length; i++) sum += chunk[i]!;
      got += chunk.length;
    });
    sock.resume();
    while (got < 8 + big.length) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sum, 7 * big.length, 'the client received the response whole');
    for (let i = 0; i < 100 && writtenCount === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(writtenCount, 1);
    sock.destroy();
  });
  // 2. the client is gone before the (slow) response is ready: written() still runs, once
  respond = 'slow';
  writtenCount = 0;
  await withServer(handler, {}, async (port, conns) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(frame(2));
    while (conns.length === 0) await new Promise((r) => setTimeout(r, 5));
    sock.destroy();
    for (let i = 0; i < 100 && writtenCount === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(writtenCount, 1);
  });
});
