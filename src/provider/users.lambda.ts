/*
 * The users provider's entry point: the function behind every application
 * database user resource, the retention resource and the schema resource
 * (schema.ts). CloudFormation invokes
 * it directly (asynchronously) and it answers CloudFormation itself
 * (custom-resource.ts): no function outside the VPC relays the answer.
 *
 * This module loads only Node.js built-ins and the answer code. The logic
 * (users.ts, with mysql2 and the AWS SDK) is loaded when a request arrives,
 * inside the answer, so that whatever fails from then on, while the logic
 * loads, runs, or overruns its time, is answered FAILED with the reason
 * rather than left for CloudFormation to wait out until the resource's
 * ServiceTimeout.
 */
import { answer } from './custom-resource';
import type { CustomResourceRequest } from './custom-resource';
import { log } from './log';
import type * as Logic from './users';

/*
 * What tests read from the bundle (counters, redaction) comes from log.ts,
 * which loads nothing.
 */
export { describeError, redact, stats } from './log';
export type { InvocationContext, UsersEvent, UsersResponse } from './users';

let logic: typeof Logic | undefined;

/** The provider's logic, loaded on first use (esbuild keeps `require` lazy in the bundle). */
function loadLogic(): typeof Logic {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  logic ??= require('./users') as typeof Logic;
  return logic;
}

/**
 * Lambda entry point. With a `ResponseURL` (CloudFormation's request) it
 * answers there, success or failure, exactly once, and returns nothing.
 * Without one (tests) it returns the result, or throws.
 */
export async function handler(event: Logic.UsersEvent, context: Logic.InvocationContext = {}): Promise<Logic.UsersResponse | undefined> {
  if (typeof (event as Partial<CustomResourceRequest>)?.ResponseURL === 'string') {
    // The reason CloudFormation shows is the error message, already redacted.
    const request = event as unknown as CustomResourceRequest;
    await answer(request, () => loadLogic().onEvent(event, context), (level, message, fields) => log(level, message, fields), {
      remainingMs: context.getRemainingTimeInMillis,
    });
    return undefined;
  }
  return loadLogic().onEvent(event, context);
}
