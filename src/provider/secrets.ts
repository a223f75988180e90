/*
 * Secrets Manager, as the users provider reads it: through the interface
 * endpoint named by SECRETS_MANAGER_ENDPOINT when set, within the
 * invocation's time, and with every password read masked in all output.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { maskLater, ProviderError, stats } from './log';

/** Upper bound of one read, in milliseconds. */
const SECRET_TIMEOUT_MS = 10_000;

let secretsClient: SecretsManagerClient | undefined;

/**
 * The endpoint URL from SECRETS_MANAGER_ENDPOINT (an interface endpoint's own
 * DNS name: the endpoint has no private DNS), or undefined for the SDK's
 * regional endpoint. Throws, naming the variable, for anything that is not an
 * http(s) URL or a host name.
 */
function configuredEndpoint(): string | undefined {
  const configured = process.env.SECRETS_MANAGER_ENDPOINT?.trim();
  if (!configured) return undefined;
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(configured) ? configured : `https://${configured}`;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.hostname === '' || parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '') {
    throw new ProviderError(`SECRETS_MANAGER_ENDPOINT (${JSON.stringify(configured)}) must be an https URL or a host name, such as https://vpce-0123-abcd.secretsmanager.us-east-1.vpce.amazonaws.com`);
  }
  return url;
}

/** Checks the environment this module reads; throws, naming the variable, for a value that cannot work. */
export function checkEnvironment(): void {
  configuredEndpoint();
}

function secretsManager(): SecretsManagerClient {
  if (!secretsClient) {
    const endpoint = configuredEndpoint();
    secretsClient = new SecretsManagerClient({ ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });
  }
  return secretsClient;
}

export interface SecretJson {
  readonly username?: unknown;
  readonly password?: unknown;
}

/**
 * The JSON of a secret (version stage AWSCURRENT unless `stage` says
 * otherwise), or undefined when `stage` is given and the secret has no
 * version in it. Its password is masked in every output from then on.
 */
export async function readSecret(arn: string, deadline: number, stage?: string): Promise<SecretJson | undefined> {
  const abort = new AbortController();
  const timeoutMs = Math.max(1, Math.min(SECRET_TIMEOUT_MS, deadline - Date.now()));
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    stats.secretReads++;
    const out = await secretsManager().send(
      new GetSecretValueCommand({ SecretId: arn, ...(stage ? { VersionStage: stage } : {}) }),
      { abortSignal: abort.signal },
    );
    if (typeof out.SecretString !== 'string') {
      throw new ProviderError(`secret ${arn} has no SecretString (a binary secret is not supported)`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(out.SecretString);
    } catch {
      // JSON.parse quotes the text it failed on: never pass its message on.
      throw new ProviderError(`secret ${arn} is not JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null) throw new ProviderError(`secret ${arn} is not a JSON object`);
    const json = parsed as SecretJson;
    if (typeof json.password === 'string') maskLater(json.password);
    return json;
  } catch (err) {
    const e = err as { name?: string };
    if (stage && e.name === 'ResourceNotFoundException') return undefined;
    if (abort.signal.aborted) {
      const endpoint = process.env.SECRETS_MANAGER_ENDPOINT || 'the regional endpoint';
      // A timeout like the database's: retried while the invocation has time.
      throw Object.assign(new Error(`Secrets Manager (${endpoint}) did not answer within ${timeoutMs} ms`), { name: 'TimeoutError' });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export interface MasterCredentials {
  readonly username: string;
  readonly password: string;
}

export function masterCredentials(json: SecretJson | undefined, arn: string): MasterCredentials | undefined {
  if (!json) return undefined;
  if (typeof json.username !== 'string' || json.username === '' || typeof json.password !== 'string' || json.password === '') {
    throw new ProviderError(`secret ${arn} must hold a JSON object with "username" and "password" strings`);
  }
  return { username: json.username, password: json.password };
}
