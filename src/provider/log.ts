/*
 * What leaves the users provider: log lines, errors and counters. Secrets
 * never do: every log line and error message is redacted.
 */

/** Counters for tests and logs: connection attempts, connections opened, secrets read, in this execution environment. */
export const stats = { attempts: 0, connections: 0, secretReads: 0 };

const secretsToMask = new Set<string>();

/** Remember `value` (and the forms it takes in SQL) as text no output may contain. */
export function maskLater(value: string): void {
  if (value.length === 0) return;
  for (const form of [value, value.replace(/'/g, "''"), value.replace(/\\/g, '\\\\').replace(/'/g, "''"), JSON.stringify(value).slice(1, -1)]) {
    if (form.length > 0) secretsToMask.add(form);
  }
}

/** `text` with every remembered secret replaced by `***`. */
export function redact(text: string): string {
  let out = text;
  // Longest first, so that a secret containing another is masked whole.
  for (const secret of [...secretsToMask].sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('***');
  }
  return out;
}

export function log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
  const line = redact(JSON.stringify({ level, message, ...fields }));
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

/** The error the provider throws: a redacted message and nothing else (Lambda reports an error's own properties too). */
export class ProviderError extends Error {
  constructor(message: string) {
    super(redact(message));
  }
}
// On the prototype, not the instance: the error's only own property is its message.
Object.defineProperty(ProviderError.prototype, 'name', { value: 'ProviderError' });

/** `CODE (errno): message` for a mysql2 or Node.js error; `Name: message` for others. Never `err.sql`. */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; errno?: unknown; sqlState?: unknown; sqlMessage?: unknown; message?: unknown; name?: unknown };
  if (typeof e !== 'object' || e === null) return String(err);
  const message = typeof e.sqlMessage === 'string' ? e.sqlMessage : String(e.message ?? err);
  if (typeof e.code === 'string' && typeof e.errno === 'number' && typeof e.sqlState === 'string') {
    return `${e.code} (${e.errno}): ${message}`;
  }
  if (typeof e.code === 'string' && !message.includes(e.code)) return `${e.code}: ${message}`;
  if (typeof e.name === 'string' && e.name !== 'Error' && !message.startsWith(e.name)) return `${e.name}: ${message}`;
  return message;
}
