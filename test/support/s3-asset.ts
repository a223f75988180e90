/*
 * The schema's migration files on their way to the users provider: a
 * directory zipped as the CDK's asset publishing zips one (deflated entries
 * streamed with data descriptors, sizes in the central directory, forward
 * slashes), and a stand-in for S3 that serves GetObject, path style, to the
 * provider bundle (whose SDK is pointed at it with AWS_ENDPOINT_URL_S3, the
 * SDK's own service-specific endpoint setting).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

/** A zip archive of the files of `directory` (and of its subdirectories, as the CDK packs them). */
export function zipDirectory(directory: string): Buffer {
  const files: Array<{ name: string; content: Buffer }> = [];
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full, `${prefix}${name}/`);
      else files.push({ name: `${prefix}${name}`, content: readFileSync(full) });
    }
  };
  walk(directory, '');
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const file of files) {
    const name = Buffer.from(file.name, 'utf8');
    const data = deflateRawSync(file.content);
    const crc = crc32(file.content);
    // Local header with bit 3 set: CRC and sizes follow the data, as a streaming writer does.
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0808, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(name.length, 26);
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc, 4);
    descriptor.writeUInt32LE(data.length, 8);
    descriptor.writeUInt32LE(file.content.length, 12);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0808, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(file.content.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data, descriptor);
    centrals.push(central, name);
    offset += local.length + name.length + data.length + descriptor.length;
  }
  const directoryBytes = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directoryBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directoryBytes, end]);
}

/** A stand-in for S3: GetObject (path style) of the objects put here; every request recorded. */
export class FakeS3 {
  static async start(): Promise<FakeS3> {
    const s3 = new FakeS3();
    await new Promise<void>((resolve) => s3.server.listen(0, '127.0.0.1', resolve));
    return s3;
  }

  readonly objects = new Map<string, Buffer>();
  /** `METHOD /bucket/key` of every request, in order. */
  readonly requests: string[] = [];
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      const path = decodeURIComponent((req.url ?? '').split('?')[0]);
      this.requests.push(`${req.method} ${path}`);
      const object = this.objects.get(path);
      // A signed request, as the SDK sends it.
      if (req.method !== 'GET' || !String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
        res.statusCode = 403;
        res.end('<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
        return;
      }
      if (!object) {
        res.statusCode = 404;
        res.setHeader('content-type', 'application/xml');
        res.end('<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>');
        return;
      }
      res.setHeader('content-type', 'application/zip');
      res.setHeader('content-length', String(object.length));
      res.end(object);
    });
  }

  /** The endpoint URL for AWS_ENDPOINT_URL_S3. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  put(bucket: string, key: string, body: Buffer): void {
    this.objects.set(`/${bucket}/${key}`, body);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
