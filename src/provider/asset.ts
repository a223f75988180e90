/*
 * The schema's migration files, as the users provider fetches them: the
 * directory asset the CDK uploaded (a zip archive in the bootstrap bucket),
 * read with s3:GetObject through the subnets' S3 gateway endpoint (or their
 * NAT), within the invocation's time.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ProviderError, describeError } from './log';
import { readZip } from './zip';
import type { MigrationSource } from '../migrations/files';

/** Upper bound of the download, in milliseconds. */
const DOWNLOAD_TIMEOUT_MS = 30_000;

let s3: S3Client | undefined;

/**
 * The files directly in the asset's directory (its subdirectories are not
 * read, as the command line reads a directory), sorted by name.
 */
export async function fetchMigrationSources(bucket: string, key: string, deadline: number): Promise<MigrationSource[]> {
  s3 ??= new S3Client({ maxAttempts: 3 });
  const abort = new AbortController();
  const timeoutMs = Math.max(1, Math.min(DOWNLOAD_TIMEOUT_MS, deadline - Date.now()));
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let zip: Buffer;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: abort.signal });
    if (!out.Body) throw new Error('the object has no body');
    zip = Buffer.from(await out.Body.transformToByteArray());
  } catch (err) {
    const why = abort.signal.aborted ? `S3 did not answer within ${timeoutMs} ms` : describeError(err);
    throw new ProviderError(`cannot fetch the migration files s3://${bucket}/${key}: ${why}`);
  } finally {
    clearTimeout(timer);
  }
  let entries;
  try {
    entries = readZip(zip);
  } catch (err) {
    throw new ProviderError(`cannot read the migration files s3://${bucket}/${key}: ${(err as Error).message}`);
  }
  return entries
    .filter((e) => !e.path.includes('/'))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((e) => ({ name: e.path, content: e.content }));
}
