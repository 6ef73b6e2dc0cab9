/** Kafka wire codec runtime; message codecs are in ../generated/. */
export { KafkaCodecError, UnsupportedVersionError } from './errors.js';
export { Reader, MAX_STRING_LENGTH, type ElementReader } from './reader.js';
export { Writer, unsignedVarintSize, type ElementWriter, type WriterOptions } from './writer.js';
export {
  ZERO_UUID,
  EMPTY_BUFFER,
  isZeroUuid,
  type MessageCodec,
  type ApiInfo,
  type FieldSchema,
  type MessageSchema,
} from './types.js';
export {
  requestHeaderVersion,
  responseHeaderVersion,
  decodeRequestHeader,
  decodeRequest,
  encodeResponse,
  encodeResponseChunks,
  encodeRequest,
  decodeResponse,
  decodeVersioned,
  encodeVersioned,
  type ApiKeyNumber,
  type RequestHeaderFields,
  type DecodedRequestHeader,
  type DecodedRequest,
  type DecodedRequestOf,
  type DecodedResponse,
} from './frame.js';
