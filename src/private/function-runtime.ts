import { Token, aws_lambda as lambda } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { SERVERLESS, acknowledgeRules } from './acknowledgments';

/**
 * The oldest Node.js major the functions may run on. Their bundles are built
 * for it (the esbuild target in .projenrc.ts, which a test compares with this).
 */
export const LOWEST_NODE_MAJOR = 22;

/** The functions' runtime when the user chooses none: the one they are tested on. */
export const DEFAULT_FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** The runtime of the functions a database deploys, and whether the user chose it. */
export interface FunctionRuntime {
  readonly runtime: lambda.Runtime;
  readonly chosen: boolean;
}

/** `functionRuntime` of the props, or the default. */
export function functionRuntime(chosen: lambda.Runtime | undefined): FunctionRuntime {
  return { runtime: chosen ?? DEFAULT_FUNCTION_RUNTIME, chosen: chosen !== undefined };
}

/** The Node.js major of a runtime name such as `nodejs24.x`, if it is one. */
export function nodeMajor(name: string): number | undefined {
  const m = /^nodejs(\d+)\.x$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * The newest Node.js major among the runtimes aws-cdk-lib knows (`Runtime.ALL`),
 * which is what the rule packs compare a function's runtime with.
 */
export function newestKnownNodeMajor(): number {
  return Math.max(...lambda.Runtime.ALL
    .filter((r) => r.family === lambda.RuntimeFamily.NODEJS)
    .map((r) => nodeMajor(r.name) ?? 0));
}

/**
 * Acknowledges the rules that ask for the newest runtime aws-cdk-lib knows
 * (`AwsSolutions-L1`, `Serverless-LambdaLatestVersion`) on a function whose
 * older runtime the user chose. The default is never acknowledged: it is
 * neither inherent nor the user's choice, and when aws-cdk-lib knows a newer
 * runtime, the finding is what tells the user that one exists.
 */
export function acknowledgeFunctionRuntime(fn: IConstruct, r: FunctionRuntime): void {
  if (!r.chosen || Token.isUnresolved(r.runtime.name)) return;
  if ((nodeMajor(r.runtime.name) ?? 0) >= newestKnownNodeMajor()) return;
  const reason = `The functions' runtime was chosen explicitly (functionRuntime: ${r.runtime.name}), ` +
    'older than the newest Node.js runtime this aws-cdk-lib knows.';
  acknowledgeRules(fn, [
    { id: 'AwsSolutions-L1', reason },
    { id: `${SERVERLESS}-LambdaLatestVersion`, reason },
  ]);
}
