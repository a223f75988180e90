/*
 * Reading the files of a zip archive, as the CDK packs a directory asset:
 * the central directory at the end names every entry, its compression
 * (stored or deflated) and where its local header starts. Pure: Node.js's
 * zlib only. ZIP64 archives (over 4 GB or 65,535 entries) and encrypted
 * entries are refused; a migrations directory is neither.
 *
 * @see https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT (sections 4.3.7, 4.3.12, 4.3.16)
 */
import { inflateRawSync } from 'node:zlib';

/** One file of an archive: its path inside it (`/`-separated) and its bytes. */
export interface ZipEntry {
  readonly path: string;
  readonly content: Buffer;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;

/** The files (not the directories) of the zip archive `zip`, in the archive's order. */
export function readZip(zip: Buffer): ZipEntry[] {
  // The end record is 22 bytes plus a comment of up to 65,535.
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === END_OF_CENTRAL_DIRECTORY) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error('not a zip archive (no end of central directory record)');
  const count = zip.readUInt16LE(end + 10);
  const offset = zip.readUInt32LE(end + 16);
  if (count === 0xffff || offset === 0xffffffff) throw new Error('ZIP64 archives are not supported');
  const entries: ZipEntry[] = [];
  let at = offset;
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== CENTRAL_FILE_HEADER) throw new Error(`corrupt zip archive: no central directory entry at byte ${at}`);
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localOffset = zip.readUInt32LE(at + 42);
    const path = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (path.endsWith('/')) continue;
    // Bit 0 of the general purpose flags: encrypted.
    if (flags % 2 === 1) throw new Error(`${path}: encrypted zip entries are not supported`);
    if (zip.readUInt32LE(localOffset) !== LOCAL_FILE_HEADER) throw new Error(`corrupt zip archive: no local header for ${path}`);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    let content: Buffer;
    if (method === 0) content = Buffer.from(data);
    else if (method === 8) content = inflateRawSync(data);
    else throw new Error(`${path}: compression method ${method} is not supported (only stored and deflated)`);
    if (content.length !== size) throw new Error(`corrupt zip archive: ${path} is ${content.length} bytes, its entry says ${size}`);
    entries.push({ path: path.replace(/\\/g, '/'), content });
  }
  return entries;
}
