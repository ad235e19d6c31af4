import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A service account directory as the kubelet mounts it: token, ca.crt, namespace. */
export function serviceAccountDir(options: { token: string; namespace: string; ca?: string }): string {
  const dir = mkdtempSync(join(tmpdir(), "serviceaccount-"));
  writeFileSync(join(dir, "token"), `${options.token}\n`);
  writeFileSync(join(dir, "namespace"), options.namespace);
  if (options.ca !== undefined) writeFileSync(join(dir, "ca.crt"), options.ca);
  return dir;
}
