/*
 * Bundle-time stand-in for `@aws-sdk/credential-provider-node` (esbuild
 * `--alias:@aws-sdk/credential-provider-node=./src/provider/shims/credential-provider-node.ts`).
 *
 * The Secrets Manager client asks that package for its default credential
 * chain: environment, SSO, ini files, credential_process, web identity,
 * container and instance metadata, with the STS and SSO clients they need. A
 * Lambda function always has its role's credentials in the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), which the
 * chain would pick first anyway, so the environment provider alone behaves
 * the same here.
 *
 * Not part of the library's API; never imported at run time outside the bundle.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

/** Same call shape as the real chain; `init` (profile, logger...) is not needed for environment credentials. */
export const defaultProvider = (_init?: unknown) => fromEnv();
