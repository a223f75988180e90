import { VALIDATION_ERROR } from './private/errors';

/**
 * Tells the errors this library throws apart from any other.
 *
 * Invalid construct input fails at synth time with an error whose message names
 * the property, the value received and what is allowed, for example
 * `proxy.maxIdleConnectionsPercent (80) must be <= proxy.maxConnectionsPercent (50)`.
 * Its `name` is `ServerlessLampValidationError`.
 *
 * @example
 * declare const caught: Error; // what a try/catch around the construct caught
 *
 * if (ServerlessLampErrors.isValidationError(caught)) {
 *   Annotations.of(this).addError(`Invalid configuration: ${caught.message}`);
 * }
 */
export class ServerlessLampErrors {
  /**
   * Whether `x` is an error this library threw for invalid construct input.
   *
   * @param x anything caught
   */
  public static isValidationError(x: any): boolean {
    return x !== null && typeof x === 'object' && VALIDATION_ERROR in x;
  }

  private constructor() {}
}
