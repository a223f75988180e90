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

function secretsManager(): SecretsManagerClient {
  if (!secretsClient) {
    const configured = process.env.SECRETS_MANAGER_ENDPOINT?.trim();
    // An interface endpoint's own DNS name (the endpoint has no private DNS).
    const endpoint = configured ? (/^https?:\/\//.test(configured) ? configured : `https://${configured}`) : undefined;
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
