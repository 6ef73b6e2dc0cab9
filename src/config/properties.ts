/**
 * Java .properties parsing (the format of Pulsar's broker.conf), so a user can
 * reuse broker.conf lines as they are: `key=value`, `key: value`, `key value`,
 * `#`/`!` comments, backslash line continuations, `\t \n \r \f \uXXXX` escapes.
 */
export interface PropertyEntry {
  key: string;
  value: string;
  /** 1-based line number where the entry starts, for error messages. */
  line: number;
}

export function parseProperties(text: string): PropertyEntry[] {
  const physical = text.split(/\r\n|\r|\n/);
  const entries: PropertyEntry[] = [];
  for (let i = 0; i < physical.length; i++) {
    const startLine = i + 1;
    let logical = stripLeading(physical[i]!);
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue;
    // Join continuation lines: an odd number of trailing backslashes continues the line.
    while (endsWithContinuation(logical) && i + 1 < physical.length) {
      logical = logical.slice(0, -1) + stripLeading(physical[++i]!);
    }
    if (endsWithContinuation(logical)) logical = logical.slice(0, -1);
    const { key, value } = splitKeyValue(logical);
    entries.push({ key: unescape(key), value: unescape(value), line: startLine });
  }
  return entries;
}

function stripLeading(s: string): string {
  return s.replace(/^[ \t\f]+/, '');
}

function endsWithContinuation(s: string): boolean {
  let n = 0;
  for (let j = s.length - 1; j >= 0 && s[j] === '\\'; j--) n++;
  return n % 2 === 1;
}

function splitKeyValue(line: string): { key: string; value: string } {
  let j = 0;
  while (j < line.length) {
    const c = line[j]!;
    if (c === '\\') {
      j += 2;
      continue;
    }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
    j++;
  }
  const key = line.slice(0, Math.min(j, line.length));
  let k = j;
  while (k < line.length && (line[k] === ' ' || line[k] === '\t' || line[k] === '\f')) k++;
  if (k < line.length && (line[k] === '=' || line[k] === ':')) k++;
  while (k < line.length && (line[k] === ' ' || line[k] === '\t' || line[k] === '\f')) k++;
  // Java keeps trailing whitespace of values; broker.conf values practically never
  // mean it, and a stray space after "true" would fail validation confusingly.
  return { key, value: line.slice(k).replace(/[ \t\f]+$/, '') };
}

function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let j = 0; j < s.length; j++) {
    const c = s[j]!;
    if (c !== '\\' || j + 1 >= s.length) {
      out += c;
      continue;
    }
    const n = s[++j]!;
    switch (n) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        const hex = s.slice(j + 1, j + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new Error(`malformed \\u escape '\\u${hex}'`);
        out += String.fromCharCode(parseInt(hex, 16));
        j += 4;
        break;
      }
      default: out += n;
    }
  }
  return out;
}
