/** Marks the library's validation errors, across copies of the library loaded side by side. */
export const VALIDATION_ERROR = Symbol.for('serverless-lamp-database.ValidationError');

/**
 * Thrown for invalid construct input at synth time.
 *
 * jsii cannot export a subclass of `Error` to other languages (aws-cdk-lib keeps
 * its own `ValidationError` internal for the same reason), so this class stays
 * private and `ServerlessLampErrors.isValidationError()` recognises it.
 */
export class ServerlessLampValidationError extends Error {
  public readonly [VALIDATION_ERROR] = true;

  constructor(message: string) {
    super(message);
    this.name = 'ServerlessLampValidationError';
  }
}
