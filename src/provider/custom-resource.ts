/*
 * CloudFormation custom resource protocol, for a function that CloudFormation
 * invokes directly (no provider framework function outside the VPC).
 *
 * CloudFormation invokes the function asynchronously with a request that
 * carries a presigned S3 URL, and waits for a JSON answer PUT to that URL. The
 * function must answer exactly once, whatever happens: an exception that
 * escaped would make Lambda retry the request, and no answer at all leaves the
 * stack waiting until the resource's ServiceTimeout.
 *
 * From subnets without internet access, the URL (an S3 bucket of the Region)
 * is reached through an S3 gateway endpoint; from subnets with NAT, through
 * the NAT.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What CloudFormation sends. */
export interface CustomResourceRequest {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly ResourceType?: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
}

/** What the resource's own logic returns on success. */
export interface CustomResourceResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** The answer PUT to the response URL. */
export interface CustomResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly NoEcho: boolean;
  readonly Data?: Record<string, string>;
}

/** CloudFormation truncates nothing for us: the whole answer must stay under 4 KB. */
const MAX_REASON = 1000;

/**
 * The answer to `req`, from the result of its logic or the error it failed
 * with. A failed Create has no physical id yet: CloudFormation then needs one
 * it will not mistake for a real resource, and sends no Delete for it.
 */
export function responseTo(req: CustomResourceRequest, outcome: { result?: CustomResourceResult; error?: unknown }): CustomResourceResponse {
  const base = { StackId: req.StackId, RequestId: req.RequestId, LogicalResourceId: req.LogicalResourceId, NoEcho: false };
  if (outcome.result) {
    return { ...base, Status: 'SUCCESS', PhysicalResourceId: outcome.result.PhysicalResourceId, Data: outcome.result.Data };
  }
  const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
  return {
    ...base,
    Status: 'FAILED',
    Reason: message.length > MAX_REASON ? `${message.slice(0, MAX_REASON - 3)}...` : message,
    PhysicalResourceId: req.PhysicalResourceId ?? `failed-${req.RequestId}`,
  };
}

/** PUTs `response` to `url` (a presigned S3 URL), retrying briefly on network errors. */
export async function sendResponse(url: string, response: CustomResourceResponse, attempts = 3): Promise<void> {
  const body = Buffer.from(JSON.stringify(response));
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await put(url, body);
      return;
    } catch (err) {
      lastError = err;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
  throw lastError;
}

function put(url: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    // CloudFormation's URLs are https; plain http only reaches a local test server.
    const request = url.startsWith('http:') ? httpRequest : httpsRequest;
    const req = request(url, {
      method: 'PUT',
      // A presigned URL is signed for an empty content type.
      headers: { 'content-type': '', 'content-length': body.length },
      timeout: 10_000,
    }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) resolve();
        else reject(new Error(`the response URL answered HTTP ${res.statusCode}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('the response URL did not answer in 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** How long before the function's own timeout the watchdog answers for logic that has not finished. */
export function watchdogLeadMs(remainingMs: number): number {
  return Math.min(2500, Math.max(500, Math.floor(remainingMs / 20)));
}

/** The options of `answer`. */
export interface AnswerOptions {
  /**
   * The invocation's remaining time (Lambda's `context.getRemainingTimeInMillis`).
   * When given, a watchdog answers FAILED shortly before it runs out if the
   * logic has not finished by then: Lambda ends a function at its timeout
   * without a word, and CloudFormation would wait for the ServiceTimeout.
   */
  readonly remainingMs?: () => number;
}

/**
 * Runs `logic` for a CloudFormation request and answers at its response URL,
 * success or failure, exactly once. Never throws: an answer that cannot be
 * delivered is logged (CloudFormation then times the resource out).
 */
export async function answer(
  req: CustomResourceRequest,
  logic: () => Promise<CustomResourceResult>,
  log: (level: 'info' | 'error', message: string, fields?: Record<string, unknown>) => void,
  options: AnswerOptions = {},
): Promise<CustomResourceResponse> {
  let timer: NodeJS.Timeout | undefined;
  const remaining = options.remainingMs?.();
  const watchdog = new Promise<{ error: Error }>((resolve) => {
    if (remaining === undefined) return;
    const waitMs = Math.max(0, remaining - watchdogLeadMs(remaining));
    timer = setTimeout(() => resolve({
      error: new Error(`the provider did not finish within the function's time (${Math.round(remaining / 1000)} s); ` +
        'what it had done by then stays; see its log'),
    }), waitMs);
  });
  const run = (async () => {
    try {
      return { result: await logic() };
    } catch (error) {
      return { error };
    }
  })();
  const outcome: { result?: CustomResourceResult; error?: unknown } = await Promise.race([run, watchdog]);
  clearTimeout(timer);
  const response = responseTo(req, outcome);
  try {
    await sendResponse(req.ResponseURL, response);
    log('info', 'answered CloudFormation', { status: response.Status, physicalResourceId: response.PhysicalResourceId });
  } catch (err) {
    log('error', 'could not answer CloudFormation', { status: response.Status, detail: (err as Error).message });
  }
  return response;
}
