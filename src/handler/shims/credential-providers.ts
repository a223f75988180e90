/*
 * Bundle-time stand-in for `@aws-sdk/credential-providers` (esbuild
 * `--alias:@aws-sdk/credential-providers=./src/handler/shims/credential-providers.ts`).
 *
 * `@aws-sdk/rds-signer` imports `fromNodeProviderChain` from that package only
 * to find credentials when none are passed. The full chain drags in SSO, ini
 * files, credential_process, web identity, HTTP/IMDS providers and the STS,
 * SSO and Cognito clients: about 400 KB of a minified bundle. In a Lambda
 * execution environment the credentials of the function's role are always in
 * the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN), and `fromNodeProviderChain` itself would pick them from
 * there first, so the environment provider alone behaves the same.
 *
 * Not part of the library's API; never imported at run time outside the bundle.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

/** Same call shape as the real chain; `init` (profile, logger...) is not needed for env credentials. */
export const fromNodeProviderChain = (_init?: unknown) => fromEnv();
