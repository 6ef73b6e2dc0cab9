/**
 * A raw Kafka-protocol client for tests that check wire-level behaviour
 * (closes, ordering, throttling): send frames, read size-prefixed responses,
 * or call(): one request encoded with the generated codec, its response decoded.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { decodeResponse, encodeRequest, type ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import type { RequestBodies, ResponseBodies } from '../../src/protocol/generated/apis.js';

export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private correlationId = 1;
  closed = false;
  private constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiters.splice(0).forEach((w) => w());
    });
    sock.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }
  static async open(port: number): Promise<RawClient> {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', () => undefined); // a refused connection is reset: seen as 'close'
    await once(sock, 'connect');
    return new RawClient(sock);
  }
  send(frame: Buffer): void {
    this.sock.write(frame);
  }
  /** Next response payload (without size), or null when the server closed the connection. */
  async next(timeoutMs = 5000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= 4) {
        const n = this.buf.readInt32BE(0);
        if (this.buf.length >= 4 + n) {
          const payload = this.buf.subarray(4, 4 + n);
          this.buf = this.buf.subarray(4 + n);
          return payload;
        }
      }
      if (this.closed) return null;
      if (Date.now() > deadline) throw new Error('no response in time');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
  /** One request and its decoded response (the connection must be answering in order). */
  async call<K extends ApiKeyNumber>(key: K, version: number, body: RequestBodies[K], timeoutMs = 20_000): Promise<ResponseBodies[K]> {
    this.send(encodeRequest(key, version, this.correlationId++, 'raw', body));
    const frame = await this.next(timeoutMs);
    assert.ok(frame, `a response to API ${key} v${version}`);
    return decodeResponse(frame, key, version).body;
  }
  close(): void {
    this.sock.destroy();
  }
}

