/*
 * A checker for CloudWatch embedded metric format (EMF) documents, written
 * from the specification ("Specification: Embedded metric format", Amazon
 * CloudWatch user guide, and the JSON schema it publishes): it returns what is
 * wrong with a log line, so a test can require an empty list.
 */

/** The units the specification's schema allows. */
const UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second',
  'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second',
  'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isName = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 255;

/** Problems with `line` as an EMF document; empty when it is valid. */
export function emfProblems(line: string): string[] {
  const problems: string[] = [];
  let root: unknown;
  try {
    // The whole line must be one JSON object, with nothing before or after it.
    root = JSON.parse(line);
  } catch (err) {
    return [`not JSON: ${(err as Error).message}`];
  }
  if (!isObject(root)) return ['the root is not a JSON object'];
  const aws = root._aws;
  if (!isObject(aws)) return ['no _aws metadata object'];
  if (!Number.isInteger(aws.Timestamp) || (aws.Timestamp as number) < 0) {
    problems.push('_aws.Timestamp is not an integer number of milliseconds since the epoch');
  }
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives)) return [...problems, '_aws.CloudWatchMetrics is not an array'];
  directives.forEach((directive: unknown, i) => {
    const at = `_aws.CloudWatchMetrics[${i}]`;
    if (!isObject(directive)) {
      problems.push(`${at} is not an object`);
      return;
    }
    if (!isName(directive.Namespace)) problems.push(`${at}.Namespace is not a string of 1-255 characters`);
    const dimensionSets = directive.Dimensions;
    if (!Array.isArray(dimensionSets) || dimensionSets.length < 1) {
      problems.push(`${at}.Dimensions is not a non-empty array`);
    } else {
      dimensionSets.forEach((set: unknown, j) => {
        if (!Array.isArray(set) || set.length > 9) {
          problems.push(`${at}.Dimensions[${j}] is not an array of at most 9 keys`);
          return;
        }
        for (const key of set) {
          if (!isName(key)) problems.push(`${at}.Dimensions[${j}] holds a key that is not a string of 1-255 characters`);
          else if (typeof root[key] !== 'string') problems.push(`dimension ${key} is not a string member of the root`);
        }
      });
    }
    const metrics = directive.Metrics;
    if (!Array.isArray(metrics) || metrics.length > 100) {
      problems.push(`${at}.Metrics is not an array of at most 100 definitions`);
      return;
    }
    metrics.forEach((metric: unknown, j) => {
      if (!isObject(metric) || !isName(metric.Name)) {
        problems.push(`${at}.Metrics[${j}] has no Name of 1-255 characters`);
        return;
      }
      if (metric.Unit !== undefined && !UNITS.has(metric.Unit as string)) problems.push(`${at}.Metrics[${j}].Unit ${String(metric.Unit)} is not a CloudWatch unit`);
      const value = root[metric.Name];
      const numeric = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
      if (!(numeric(value) || (Array.isArray(value) && value.length <= 100 && value.every(numeric)))) {
        problems.push(`metric ${metric.Name} is not a number (or an array of at most 100 numbers) on the root`);
      }
    });
  });
  return problems;
}

/** True when `line` is a JSON object carrying EMF metadata (valid or not). */
export function looksLikeEmf(line: string): boolean {
  try {
    const v = JSON.parse(line);
    return isObject(v) && '_aws' in v;
  } catch {
    return false;
  }
}
