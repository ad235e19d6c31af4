/** A Kubernetes workload as people write it: namespace/pod (container); "—" when there is none. */
export function workloadText(workload: { namespace: string; pod: string; container: string }): string {
  if (workload.pod === "") return "—";
  return `${workload.namespace}/${workload.pod}${workload.container === "" ? "" : ` (${workload.container})`}`;
}
