/**
 * Whole Kafka frames: request/response header + body.
 *
 * Conventions (they match src/network/connection.ts):
 *  - decode* take the frame payload WITHOUT its 4-byte size prefix;
 *  - encode* return a complete frame WITH the size prefix, in one buffer
 *    (or a list of segments for the *Chunks variants, see WriterOptions).
 *
 * Unknown apiKeys and versions outside the codec's validVersions throw
 * UnsupportedVersionError (carrying correlationId / clientId when readable) so
 * the server can answer UNSUPPORTED_VERSION; malformed bytes throw
 * KafkaCodecError. Like Kafka, trailing bytes after a request body are
 * tolerated (reported as `trailingBytes`); truncation never is.
 */
import { KafkaCodecError, UnsupportedVersionError } from './errors.js';
import { Reader } from './reader.js';
import type { ApiInfo, MessageCodec } from './types.js';
import { Writer, type WriterOptions } from './writer.js';
import { APIS, API_KEYS, type RequestBodies, type ResponseBodies } from '../generated/apis.js';
import { RequestHeader, ResponseHeader } from '../generated/headers.js';

export type ApiKeyNumber = keyof RequestBodies & keyof ResponseBodies;

export interface RequestHeaderFields {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** null when the client sent a null client id, "" for header v0. */
  clientId: string | null;
}

export interface DecodedRequestHeader {
  header: RequestHeaderFields;
  headerVersion: number;
  api: ApiInfo;
  /** Offset of the body in the frame. */
  bodyOffset: number;
}

export interface DecodedRequestOf<K extends ApiKeyNumber> extends DecodedRequestHeader {
  /** Same as header.apiKey; at top level so that `switch (req.apiKey)` narrows `body`. */
  apiKey: K;
  body: RequestBodies[K];
  /** Bytes left after the body (Kafka ignores them too). */
  trailingBytes: number;
}

/** A decoded request: a union discriminated by apiKey. */
export type DecodedRequest = { [K in ApiKeyNumber]: DecodedRequestOf<K> }[ApiKeyNumber];

export interface DecodedResponse<K extends ApiKeyNumber> {
  correlationId: number;
  headerVersion: number;
  body: ResponseBodies[K];
}

function apiInfo(apiKey: number, apiVersion: number, what: string): ApiInfo {
  const api = APIS[apiKey];
  if (!api) throw new UnsupportedVersionError(apiKey, apiVersion, what);
  if (apiVersion < api.minVersion || apiVersion > api.maxVersion) throw new UnsupportedVersionError(apiKey, apiVersion, `${api.name} version`);
  return api;
}

/**
 * Request header version for an API version: 2 when the API version is
 * flexible, else 1; ControlledShutdown v0 uses header v0.
 */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  const api = apiInfo(apiKey, apiVersion, 'apiKey');
  if (apiKey === API_KEYS.ControlledShutdown && apiVersion === 0) return 0;
  return apiVersion >= api.flexibleMin ? 2 : 1;
}

/**
 * Response header version: 1 when the API version is flexible, else 0;
 * ApiVersions responses ALWAYS use header v0 (clients parse them before they
 * know which versions the broker supports).
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  const api = apiInfo(apiKey, apiVersion, 'apiKey');
  if (apiKey === API_KEYS.ApiVersions) return 0;
  return apiVersion >= api.flexibleMin ? 1 : 0;
}

/** Reads what can be read of a header whose API or version is unknown, and throws. */
function unsupported(r: Reader, apiKey: number, apiVersion: number, what: string): never {
  const correlationId = r.int32();
  let clientId: string | null = null;
  try {
    // Header v1+ layout (the client id is a classic string even in v2).
    clientId = r.nullableString();
  } catch {
    // not readable: leave null
  }
  throw new UnsupportedVersionError(apiKey, apiVersion, what, correlationId, clientId);
}

/** Decodes only the request header of a frame (payload without the size prefix). */
export function decodeRequestHeader(frame: Buffer): DecodedRequestHeader {
  const r = new Reader(frame);
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const api = APIS[apiKey];
  if (!api) unsupported(r, apiKey, apiVersion, 'apiKey');
  if (apiVersion < api.minVersion || apiVersion > api.maxVersion) unsupported(r, apiKey, apiVersion, `${api.name} request version`);
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  r.offset = 0;
  const h = RequestHeader.decode(r, headerVersion);
  return {
    header: { apiKey, apiVersion, correlationId: h.correlationId, clientId: h.clientId },
    headerVersion,
    api,
    bodyOffset: r.offset,
  };
}

/** Decodes a request frame (payload without the size prefix): header and body. */
export function decodeRequest(frame: Buffer): DecodedRequest {
  const { header, headerVersion, api, bodyOffset } = decodeRequestHeader(frame);
  const r = new Reader(frame, bodyOffset);
  const body = api.request.decode(r, header.apiVersion);
  // (an explicit literal: object spread is several times slower here)
  const apiKey = header.apiKey as ApiKeyNumber;
  return { apiKey, header, headerVersion, api, bodyOffset, body, trailingBytes: r.remaining() } as DecodedRequest;
}

function encodeFrame<T>(
  w: Writer,
  headerCodec: MessageCodec<T>,
  headerVersion: number,
  header: T,
  bodyCodec: MessageCodec<unknown>,
  apiVersion: number,
  body: unknown,
): void {
  headerCodec.encode(w, headerVersion, header);
  bodyCodec.encode(w, apiVersion, body);
}

function responseWriter<K extends ApiKeyNumber>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: ResponseBodies[K],
  options?: WriterOptions,
): Writer {
  const api = apiInfo(apiKey, apiVersion, 'apiKey');
  const w = Writer.frame(options);
  encodeFrame(w, ResponseHeader, responseHeaderVersion(apiKey, apiVersion), { correlationId }, api.response, apiVersion, body);
  return w;
}

/** A complete response frame: 4-byte size + response header + body, in one buffer. */
export function encodeResponse<K extends ApiKeyNumber>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: ResponseBodies[K],
  options?: WriterOptions,
): Buffer {
  return responseWriter(apiKey, apiVersion, correlationId, body, options).finishFrame();
}

/**
 * Like encodeResponse, but records of at least `zeroCopyThreshold` bytes are
 * not copied: the frame comes back as segments to write in order (writev/cork).
 */
export function encodeResponseChunks<K extends ApiKeyNumber>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: ResponseBodies[K],
  zeroCopyThreshold = 4 * 1024,
): Buffer[] {
  return responseWriter(apiKey, apiVersion, correlationId, body, { zeroCopyThreshold }).finishFrameChunks();
}

/** A complete request frame (client side, tests): 4-byte size + request header + body. */
export function encodeRequest<K extends ApiKeyNumber>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: RequestBodies[K],
  options?: WriterOptions,
): Buffer {
  const api = apiInfo(apiKey, apiVersion, 'apiKey');
  const w = Writer.frame(options);
  const header: RequestHeader = { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId };
  encodeFrame(w, RequestHeader, requestHeaderVersion(apiKey, apiVersion), header, api.request, apiVersion, body);
  return w.finishFrame();
}

/** Decodes a response frame (payload without the size prefix) of a known request. */
export function decodeResponse<K extends ApiKeyNumber>(frame: Buffer, apiKey: K, apiVersion: number): DecodedResponse<K> {
  const api = apiInfo(apiKey, apiVersion, 'apiKey');
  const r = new Reader(frame);
  const headerVersion = responseHeaderVersion(apiKey, apiVersion);
  const { correlationId } = ResponseHeader.decode(r, headerVersion);
  const body = api.response.decode(r, apiVersion) as ResponseBodies[K];
  return { correlationId, headerVersion, body };
}

/**
 * Data messages stored as bytes with an int16 version prefix (consumer group
 * protocol: ConsumerProtocolSubscription / ConsumerProtocolAssignment inside
 * JoinGroup / SyncGroup). Like Kafka's ConsumerProtocol, a version newer than
 * the codec knows is read as the newest known one (newer versions only append
 * fields); an older-than-known version throws.
 */
export function decodeVersioned<T>(codec: MessageCodec<T>, buf: Buffer): { version: number; value: T } {
  const r = new Reader(buf);
  const version = r.int16();
  const [lo, hi] = codec.validVersions;
  if (version < lo) throw new KafkaCodecError(`${codec.name} version ${version} is older than ${lo}`);
  return { version, value: codec.decode(r, Math.min(version, hi)) };
}

export function encodeVersioned<T>(codec: MessageCodec<T>, version: number, value: T): Buffer {
  const w = new Writer({ initialSize: 64 });
  w.int16(version);
  codec.encode(w, version, value);
  return w.finish();
}
