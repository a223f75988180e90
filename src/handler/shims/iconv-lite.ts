/* eslint-disable no-bitwise -- byte-level CESU-8 */
/*
 * Bundle-time stand-in for `iconv-lite` (esbuild
 * `--alias:iconv-lite=./src/handler/shims/iconv-lite.ts`).
 *
 * mysql2 hands every string to `Buffer` when Node knows the encoding (utf8,
 * latin1, ascii, ucs2...) and to iconv-lite otherwise; iconv-lite's code pages
 * (GBK, Big5, Shift_JIS, EUC-KR...) are ~490 KB of the minified bundle. The
 * handler's connection speaks utf8mb4 and `SHOW TABLES` answers in the server's
 * system character set, utf8mb3, which mysql2 names `cesu8`: CESU-8 and UTF-8
 * are byte-identical for every character utf8mb3 can hold, and this shim
 * decodes CESU-8 surrogate pairs too. Any other non-Node encoding throws,
 * loudly, instead of decoding wrongly.
 *
 * Not part of the library's API; never imported at run time outside the bundle.
 */
import { StringDecoder } from 'node:string_decoder';

/** The streaming interface mysql2 uses (`write` then `end`). */
export interface Decoder {
  write(buf: Buffer): string;
  end(): string | undefined;
}

export interface Encoder {
  write(str: string): Buffer;
  end(): Buffer | undefined;
}

function normalize(encoding: string): string {
  return String(encoding).toLowerCase().replace(/[^0-9a-z]/g, '');
}

function unsupported(encoding: string): Error {
  return new Error(
    `character set encoding '${encoding}' is not bundled in this handler (iconv-lite is left out; the connection uses utf8mb4)`,
  );
}

/** Decode CESU-8: UTF-8 plus supplementary characters written as two 3-byte surrogates. */
function decodeCesu8(buf: Buffer): string {
  // No 0xED lead byte with a surrogate continuation: plain UTF-8.
  if (!buf.some((b, i) => b === 0xed && i + 1 < buf.length && buf[i + 1] >= 0xa0)) {
    return buf.toString('utf8');
  }
  let out = '';
  let start = 0;
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] === 0xed && buf[i + 1] >= 0xa0 && buf[i + 1] <= 0xbf && (buf[i + 2] & 0xc0) === 0x80) {
      out += buf.toString('utf8', start, i) + String.fromCharCode(0xd000 | ((buf[i + 1] & 0x3f) << 6) | (buf[i + 2] & 0x3f));
      i += 2;
      start = i + 1;
    }
  }
  return out + buf.toString('utf8', start);
}

/** Encode CESU-8: like UTF-8, but each UTF-16 surrogate as its own 3-byte sequence. */
function encodeCesu8(str: string): Buffer {
  if (!/[\ud800-\udfff]/.test(str)) return Buffer.from(str, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      parts.push(Buffer.from(str.slice(start, i), 'utf8'), Buffer.from([0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]));
      start = i + 1;
    }
  }
  parts.push(Buffer.from(str.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

export function encodingExists(encoding: string): boolean {
  return Buffer.isEncoding(encoding) || normalize(encoding) === 'cesu8';
}

export function getDecoder(encoding: string, _options?: unknown): Decoder {
  if (normalize(encoding) === 'cesu8') {
    let pending: Buffer[] = [];
    return {
      // mysql2 passes whole values; keep bytes until end() to stay correct for split input.
      write: (buf: Buffer) => {
        pending.push(buf);
        return '';
      },
      end: () => {
        const all = Buffer.concat(pending);
        pending = [];
        return decodeCesu8(all);
      },
    };
  }
  if (Buffer.isEncoding(encoding)) {
    const decoder = new StringDecoder(encoding);
    return { write: (buf: Buffer) => decoder.write(buf), end: () => decoder.end() };
  }
  throw unsupported(encoding);
}

export function getEncoder(encoding: string, _options?: unknown): Encoder {
  if (normalize(encoding) === 'cesu8') {
    return { write: encodeCesu8, end: () => undefined };
  }
  if (Buffer.isEncoding(encoding)) {
    return { write: (str: string) => Buffer.from(str, encoding), end: () => undefined };
  }
  throw unsupported(encoding);
}

export function decode(buf: Buffer, encoding: string): string {
  const decoder = getDecoder(encoding);
  return decoder.write(buf) + (decoder.end() ?? '');
}

export function encode(str: string, encoding: string): Buffer {
  return getEncoder(encoding).write(str);
}
