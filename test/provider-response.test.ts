/*
 * The users provider answers CloudFormation itself (src/provider/custom-resource.ts):
 * exactly one answer per request, success or failure, PUT to the request's
 * presigned URL, as CloudFormation's custom resource protocol asks; through the
 * bundle too, in a process of its own.
 *
 * Every request is the one CloudFormation sends for the application user of
 * the default stack (`new ServerlessLampDatabase(stack, 'Db')`), built from
 * its synthesized template by support/cfn-lifecycle.ts.
 */
import { createServer, IncomingMessage, Server } from 'node:http';
import { join } from 'node:path';
import { Template as Assertions } from 'aws-cdk-lib/assertions';
import { SimulatedStack, type ResponseUrls, type Template } from './support/cfn-lifecycle';
import { invokeBundle } from './support/provider';
import { defaultsStack } from './support/stacks';
import { answer, CustomResourceRequest, responseTo, sendResponse, watchdogLeadMs } from '../src/provider/custom-resource';

const BUNDLE = join(__dirname, '..', 'assets', 'provider', 'users.lambda', 'index.js');

const TEMPLATE = Assertions.fromStack(defaultsStack().stack).toJSON() as Template;
const USER = Object.keys(TEMPLATE.Resources).find((id) => TEMPLATE.Resources[id].Type === 'Custom::ServerlessLampDatabaseUser')!;
const cfn = new SimulatedStack(TEMPLATE, { stackName: 'Defaults', region: 'eu-west-1', account: '123456789012' });

interface Received { method?: string; contentType?: string; body: any }

/** A local stand-in for the presigned S3 URLs: records each request, answers with `statuses` in turn (then 200). */
async function responseServer(statuses: number[] = []): Promise<ResponseUrls & { url: string; received: Received[]; close: () => Promise<void> }> {
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
  const urlFor = (requestId: string) => `http://127.0.0.1:${port}/${requestId}?X-Amz-Signature=abc`;
  return { url: urlFor('any'), urlFor, received, close: () => new Promise((r) => server.close(() => r())) };
}

/** A URL nobody answers at. */
const NOWHERE: ResponseUrls = { urlFor: () => 'http://127.0.0.1:1/x' };

/** CloudFormation's request for the application user, answered at `urls`. */
function request(urls: ResponseUrls, type: 'Create' | 'Update' | 'Delete' = 'Create', options: { physicalId?: string; template?: Template } = {}): CustomResourceRequest {
  const physicalId = options.physicalId ?? (type === 'Create' ? undefined : 'lamp_app@0123456789ab');
  return cfn.requestFor(type, USER, { bucket: urls, physicalId, template: options.template }) as CustomResourceRequest;
}

/** The template with the user's properties changed. */
function withUserProperties(properties: Record<string, unknown>): Template {
  const resource = TEMPLATE.Resources[USER];
  return { Resources: { ...TEMPLATE.Resources, [USER]: { ...resource, Properties: { ...resource.Properties, ...properties } } } };
}

describe('the answer', () => {
  test('success carries the physical id and data, and the request\'s ids', () => {
    const req = request(NOWHERE);
    expect(responseTo(req, { result: { PhysicalResourceId: 'shop', Data: { UserName: 'shop' } } })).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: 'shop',
      Data: { UserName: 'shop' },
      StackId: cfn.stackId,
      RequestId: req.RequestId,
      LogicalResourceId: USER,
      NoEcho: false,
    });
  });

  test('a failed Create gets a physical id that is no user name, so the rollback\'s Delete drops nothing', () => {
    const req = request(NOWHERE);
    const r = responseTo(req, { error: new Error('ER_NO_SUCH_TABLE (1146): no') });
    expect(r).toMatchObject({ Status: 'FAILED', Reason: 'ER_NO_SUCH_TABLE (1146): no', PhysicalResourceId: `failed-${req.RequestId}` });
    expect(r.PhysicalResourceId).not.toMatch(/^[A-Za-z][A-Za-z0-9_]*$/);
  });

  test('a failed Update keeps the physical id it was given', () => {
    expect(responseTo(request(NOWHERE, 'Update', { physicalId: 'shop@0123456789ab' }), { error: new Error('x') }).PhysicalResourceId).toBe('shop@0123456789ab');
  });

  test('a long reason is cut to keep the answer under the 4 KB CloudFormation accepts', () => {
    const r = responseTo(request(NOWHERE), { error: new Error('x'.repeat(5000)) });
    expect(r.Reason!.length).toBe(1000);
    expect(JSON.stringify(r).length).toBeLessThan(4096);
  });
});

describe('sending it', () => {
  test('PUTs the JSON with an empty content type (the URL is signed for one)', async () => {
    const server = await responseServer();
    try {
      await sendResponse(server.url, responseTo(request(server), { result: { PhysicalResourceId: 'shop' } }));
      expect(server.received).toEqual([{ method: 'PUT', contentType: '', body: expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'shop' }) }]);
    } finally {
      await server.close();
    }
  });

  test('retries a refused answer, then gives up with the HTTP status', async () => {
    const flaky = await responseServer([500]);
    try {
      await sendResponse(flaky.url, responseTo(request(flaky), { result: { PhysicalResourceId: 'shop' } }));
      expect(flaky.received).toHaveLength(2);
    } finally {
      await flaky.close();
    }
    const broken = await responseServer([403, 403, 403]);
    try {
      await expect(sendResponse(broken.url, responseTo(request(broken), { result: { PhysicalResourceId: 'shop' } })))
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
      await answer(request(server), async () => ({ PhysicalResourceId: 'shop' }), log);
      await answer(request(server), async () => { throw new Error('refused'); }, log);
      expect(server.received.map((r) => [r.body.Status, r.body.Reason])).toEqual([['SUCCESS', undefined], ['FAILED', 'refused']]);
      // A URL nobody answers at: logged, not thrown.
      const gone = await answer(request(NOWHERE), async () => ({ PhysicalResourceId: 'shop' }), log);
      expect(gone.Status).toBe('SUCCESS');
      expect(lines).toEqual(['info answered CloudFormation', 'info answered CloudFormation', 'error could not answer CloudFormation']);
    } finally {
      await server.close();
    }
  }, 15_000);

  test('answer() answers FAILED before the function\'s time runs out when the logic never finishes', async () => {
    const server = await responseServer();
    try {
      const remainingMs = 1500;
      const started = Date.now();
      const response = await answer(request(server), () => new Promise(() => undefined), () => undefined, { remainingMs: () => remainingMs });
      const elapsed = Date.now() - started;
      expect(response.Status).toBe('FAILED');
      expect(server.received.map((r) => r.body.Status)).toEqual(['FAILED']);
      // Before Lambda would end the function, and not before the logic's own time is up.
      expect(elapsed).toBeLessThan(remainingMs);
      expect(elapsed).toBeGreaterThanOrEqual(remainingMs - watchdogLeadMs(remainingMs) - 50);
    } finally {
      await server.close();
    }
  });
});

describe('the bundled function, invoked the way CloudFormation does', () => {
  test('answers a request it refuses with FAILED and the reason, and returns nothing', async () => {
    const server = await responseServer();
    try {
      const req = request(server, 'Create', { template: withUserProperties({ UserName: "x'; DROP USER root; --" }) });
      const out = await invokeBundle(BUNDLE, req, {
        remainingMs: 10_000,
        env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1' },
      });
      expect(out.ok).toBe(true);
      expect(out.result).toBeUndefined();
      expect(server.received).toEqual([{
        method: 'PUT',
        contentType: '',
        body: expect.objectContaining({
          Status: 'FAILED', PhysicalResourceId: `failed-${req.RequestId}`, RequestId: req.RequestId, Reason: expect.stringMatching(/^UserName /),
        }),
      }]);
    } finally {
      await server.close();
    }
  }, 30_000);

  test('answers the rollback\'s Delete of a failed Create with SUCCESS, dropping nothing', async () => {
    const server = await responseServer();
    try {
      const env = { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1' };
      // A Create that fails before touching anything (an invalid name), then the rollback's Delete of the id it answered.
      const create = request(server, 'Create', { template: withUserProperties({ UserName: '1nvalid' }) });
      await invokeBundle(BUNDLE, create, { remainingMs: 10_000, env });
      const failedId = server.received[0].body.PhysicalResourceId;
      expect(server.received[0].body.Status).toBe('FAILED');
      const out = await invokeBundle(BUNDLE, request(server, 'Delete', { physicalId: failedId, template: withUserProperties({ UserName: '1nvalid' }) }), {
        remainingMs: 10_000,
        env,
      });
      expect(out.ok).toBe(true);
      // No database, no Secrets Manager here: answering SUCCESS proves nothing was attempted.
      expect(server.received.map((r) => [r.body.Status, r.body.PhysicalResourceId])).toEqual([['FAILED', failedId], ['SUCCESS', failedId]]);
    } finally {
      await server.close();
    }
  }, 30_000);
});
