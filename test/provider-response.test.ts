/*
 * The users provider answers CloudFormation itself (src/provider/custom-resource.ts):
 * exactly one answer per request, success or failure, PUT to the request's
 * presigned URL, as CloudFormation's custom resource protocol asks; through the
 * bundle too, in a process of its own.
 */
import { createServer, IncomingMessage, Server } from 'node:http';
import { join } from 'node:path';
import { invokeBundle } from './support/provider';
import { answer, CustomResourceRequest, responseTo, sendResponse } from '../src/provider/custom-resource';

const BUNDLE = join(__dirname, '..', 'assets', 'provider', 'users.lambda', 'index.js');

interface Received { method?: string; contentType?: string; body: any }

/** A local stand-in for the presigned S3 URL: records each request, answers with `statuses` in turn (then 200). */
async function responseServer(statuses: number[] = []): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ method: req.method, contentType: req.headers['content-type'], body: JSON.parse(body) });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/response?X-Amz-Signature=abc`, received, close: () => new Promise((r) => server.close(() => r())) };
}

function request(url: string, overrides: Partial<CustomResourceRequest> = {}): CustomResourceRequest {
  return {
    RequestType: 'Create',
    ResponseURL: url,
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1',
    RequestId: 'req-1',
    LogicalResourceId: 'DbUserlampapp',
    ResourceProperties: {},
    ...overrides,
  };
}

describe('the answer', () => {
  test('success carries the physical id and data', () => {
    expect(responseTo(request('u'), { result: { PhysicalResourceId: 'shop', Data: { UserName: 'shop' } } })).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: 'shop',
      Data: { UserName: 'shop' },
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1',
      RequestId: 'req-1',
      LogicalResourceId: 'DbUserlampapp',
      NoEcho: false,
    });
  });

  test('a failed Create gets a physical id that is no user name, so the rollback\'s Delete drops nothing', () => {
    const r = responseTo(request('u'), { error: new Error('ER_NO_SUCH_TABLE (1146): no') });
    expect(r).toMatchObject({ Status: 'FAILED', Reason: 'ER_NO_SUCH_TABLE (1146): no', PhysicalResourceId: 'failed-req-1' });
    expect(r.PhysicalResourceId).not.toMatch(/^[A-Za-z][A-Za-z0-9_]*$/);
  });

  test('a failed Update keeps the physical id it was given', () => {
    expect(responseTo(request('u', { RequestType: 'Update', PhysicalResourceId: 'shop' }), { error: new Error('x') }).PhysicalResourceId).toBe('shop');
  });

  test('a long reason is cut to keep the answer under the 4 KB CloudFormation accepts', () => {
    const r = responseTo(request('u'), { error: new Error('x'.repeat(5000)) });
    expect(r.Reason!.length).toBe(1000);
    expect(JSON.stringify(r).length).toBeLessThan(4096);
  });
});

describe('sending it', () => {
  test('PUTs the JSON with an empty content type (the URL is signed for one)', async () => {
    const server = await responseServer();
    try {
      await sendResponse(server.url, responseTo(request(server.url), { result: { PhysicalResourceId: 'shop' } }));
      expect(server.received).toEqual([{ method: 'PUT', contentType: '', body: expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'shop' }) }]);
    } finally {
      await server.close();
    }
  });

  test('retries a refused answer, then gives up with the HTTP status', async () => {
    const flaky = await responseServer([500]);
    try {
      await sendResponse(flaky.url, responseTo(request(flaky.url), { result: { PhysicalResourceId: 'shop' } }));
      expect(flaky.received).toHaveLength(2);
    } finally {
      await flaky.close();
    }
    const broken = await responseServer([403, 403, 403]);
    try {
      await expect(sendResponse(broken.url, responseTo(request(broken.url), { result: { PhysicalResourceId: 'shop' } })))
        .rejects.toThrow('the response URL answered HTTP 403');
      expect(broken.received).toHaveLength(3);
    } finally {
      await broken.close();
    }
  });

  test('answer() answers once whatever the logic does, and never throws', async () => {
    const server = await responseServer();
    const lines: string[] = [];
    const log = (level: string, message: string) => lines.push(`${level} ${message}`);
    try {
      await answer(request(server.url), async () => ({ PhysicalResourceId: 'shop' }), log);
      await answer(request(server.url), async () => { throw new Error('refused'); }, log);
      expect(server.received.map((r) => [r.body.Status, r.body.Reason])).toEqual([['SUCCESS', undefined], ['FAILED', 'refused']]);
      // A URL nobody answers at: logged, not thrown.
      const gone = await answer(request('http://127.0.0.1:1/x'), async () => ({ PhysicalResourceId: 'shop' }), log);
      expect(gone.Status).toBe('SUCCESS');
      expect(lines).toEqual(['info answered CloudFormation', 'info answered CloudFormation', 'error could not answer CloudFormation']);
    } finally {
      await server.close();
    }
  }, 15_000);
});

describe('the bundled function, invoked the way CloudFormation does', () => {
  test('answers a request it refuses with FAILED and the reason, and returns nothing', async () => {
    const server = await responseServer();
    try {
      const out = await invokeBundle(BUNDLE, request(server.url, { ResourceProperties: { UserName: "x'; DROP USER root; --" } }), {
        remainingMs: 10_000,
        env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1' },
      });
      expect(out.ok).toBe(true);
      expect(out.result).toBeUndefined();
      expect(server.received).toEqual([{
        method: 'PUT',
        contentType: '',
        body: expect.objectContaining({
          Status: 'FAILED', PhysicalResourceId: 'failed-req-1', RequestId: 'req-1', Reason: expect.stringMatching(/^(SecretArn|Host) /),
        }),
      }]);
    } finally {
      await server.close();
    }
  }, 30_000);

  test('answers the rollback\'s Delete of a failed Create with SUCCESS, dropping nothing', async () => {
    const server = await responseServer();
    try {
      const out = await invokeBundle(BUNDLE, request(server.url, { RequestType: 'Delete', PhysicalResourceId: 'failed-req-1' }), {
        remainingMs: 10_000,
        env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1' },
      });
      expect(out.ok).toBe(true);
      expect(server.received.map((r) => [r.body.Status, r.body.PhysicalResourceId])).toEqual([['SUCCESS', 'failed-req-1']]);
    } finally {
      await server.close();
    }
  }, 30_000);
});
