/**
 * Element readers/writers for arrays of primitives, used by generated code
 * (struct elements use the generated read<Struct>/write<Struct> functions).
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export const readElem = {
  bool: (r: Reader) => r.bool(),
  int8: (r: Reader) => r.int8(),
  int16: (r: Reader) => r.int16(),
  uint16: (r: Reader) => r.uint16(),
  int32: (r: Reader) => r.int32(),
  uint32: (r: Reader) => r.uint32(),
  int64: (r: Reader) => r.int64(),
  float64: (r: Reader) => r.float64(),
  uuid: (r: Reader) => r.uuid(),
  string: (r: Reader) => r.string(),
  compactString: (r: Reader) => r.compactString(),
  bytes: (r: Reader) => r.bytes(),
  compactBytes: (r: Reader) => r.compactBytes(),
} as const;

export const writeElem = {
  bool: (w: Writer, _v: number, x: boolean) => w.bool(x),
  int8: (w: Writer, _v: number, x: number) => w.int8(x),
  int16: (w: Writer, _v: number, x: number) => w.int16(x),
  uint16: (w: Writer, _v: number, x: number) => w.uint16(x),
  int32: (w: Writer, _v: number, x: number) => w.int32(x),
  uint32: (w: Writer, _v: number, x: number) => w.uint32(x),
  int64: (w: Writer, _v: number, x: bigint) => w.int64(x),
  float64: (w: Writer, _v: number, x: number) => w.float64(x),
  uuid: (w: Writer, _v: number, x: Buffer) => w.uuid(x),
  string: (w: Writer, _v: number, x: string) => w.string(x),
  compactString: (w: Writer, _v: number, x: string) => w.compactString(x),
  bytes: (w: Writer, _v: number, x: Buffer) => w.bytes(x),
  compactBytes: (w: Writer, _v: number, x: Buffer) => w.compactBytes(x),
} as const;
