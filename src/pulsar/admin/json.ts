/**
 * JSON as Pulsar's admin API writes it: Java longs (ledger ids, entry ids,
 * counters) can exceed 2^53, which JSON.parse would round silently. parseJson
 * quotes every integer literal outside the safe range before parsing, so such
 * numbers arrive as decimal strings (exact); toBigInt accepts both forms.
 */

/** JSON.parse, with integers beyond Number.MAX_SAFE_INTEGER kept as decimal strings. */
export function parseJson(text: string): unknown {
  return JSON.parse(quoteBigIntegers(text));
}

/** Wrap integer literals of 16+ digits outside strings in quotes when they are not safe integers. */
export function quoteBigIntegers(text: string): string {
  let out = '';
  let last = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
      const next = i < n ? text[i] : '';
      if (next === '.' || next === 'e' || next === 'E') {
        // a fraction or an exponent: not an integer, leave it to JSON.parse
        while (i < n && /[0-9.eE+-]/.test(text[i]!)) i++;
        continue;
      }
      const digits = text.slice(start, i);
      if (digits.length >= 16 && !Number.isSafeInteger(Number(digits))) {
        out += text.slice(last, start) + '"' + digits + '"';
        last = i;
      }
      continue;
    }
    i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

/** A JSON number or decimal string as a bigint; `fallback` for anything else. */
export function toBigInt(v: unknown, fallback = 0n): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return BigInt(v.trim());
  return fallback;
}

/** JSON.stringify that writes bigints as JSON numbers (exact), for request bodies with longs. */
export function stringifyJson(value: unknown): string {
  const marks: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    marks.push(v.toString());
    return `\u0000big${marks.length - 1}\u0000`;
  });
  return marks.length === 0 ? text : text.replace(/"\\u0000big(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]!);
}
