import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ApiFixture, baseMs, enc, iso, startApiFixture } from "../api-fixture.ts";
import { fp64, gpuM, gpuN, gpuP, instances, migDataset, seconds } from "../mig-dataset.ts";

let fixture: ApiFixture;
beforeAll(async () => {
  fixture = await startApiFixture({}, migDataset());
}, 60_000);
afterAll(async () => {
  await fixture?.stop();
});

const uuids = (items: { uuid: string }[]) => items.map((item) => item.uuid);
const window = `start_time=${iso(baseMs)}&end_time=${iso(baseMs + seconds * 1_000)}`;

describe("MIG instances", () => {
  test("are listed under their GPU with profile, workload and metrics", async () => {
    const { status, body } = await fixture.get("/api/v1/gpus");
    expect(status).toBe(200);
    const m = body.items.find((gpu: { uuid: string }) => gpu.uuid === gpuM);
    expect(m).toMatchObject({ id: gpuM, pod: "", metrics: ["DCGM_FI_DEV_GPU_TEMP"], gpu_instance_id: null });
    expect(m.mig_instances).toEqual(
      instances.map((instance) => ({
        id: `${gpuM}:mig${instance.id}`,
        gpu_instance_id: instance.id,
        profile: instance.profile,
        namespace: instance.namespace,
        pod: instance.pod,
        container: instance.container,
        first_seen: iso(baseMs),
        last_seen: iso(baseMs + (seconds - 1) * 1_000),
        metrics: ["DCGM_FI_DEV_FB_USED"],
      })),
    );
    expect(body.items.find((gpu: { uuid: string }) => gpu.uuid === gpuP).mig_instances).toEqual([]);
  });

  test("an instance is a GPU of its own: detail, latest values, telemetry, summary", async () => {
    for (const id of [`${gpuM}:mig2`, "host-m:0:mig2"]) {
      const { status, body } = await fixture.get(`/api/v1/gpus/${enc(id)}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({
        id: `${gpuM}:mig2`,
        uuid: gpuM,
        gpu_instance_id: "2",
        gpu_instance_profile: "1g.10gb",
      });
      expect(body).toMatchObject({
        hostname: "host-m",
        gpu_index: 0,
        pod: "infer-b",
        namespace: "serve",
        mig_instances: [],
      });
      expect(body.latest).toEqual([
        {
          metric: "DCGM_FI_DEV_FB_USED",
          value: 2_000 + seconds - 1,
          unit: "MiB",
          timestamp: iso(baseMs + (seconds - 1) * 1_000),
        },
      ]);
    }
    const whole = await fixture.get(`/api/v1/gpus/${gpuM}`);
    expect(whole.body.latest.map((value: { metric: string }) => value.metric)).toEqual(["DCGM_FI_DEV_GPU_TEMP"]);
    expect(whole.body.mig_instances).toHaveLength(2);
    const page = await fixture.get(`/api/v1/gpus/${gpuM}:mig1/telemetry?${window}`);
    expect(page.status).toBe(200);
    expect(page.body.gpu).toBe(`${gpuM}:mig1`);
    expect(page.body.items).toHaveLength(seconds);
    expect(page.body.items[0]).toMatchObject({
      metric: "DCGM_FI_DEV_FB_USED",
      value: 1_000,
      pod: "train-a",
      container: "main",
    });
    const own = await fixture.get(`/api/v1/gpus/${gpuM}/telemetry?${window}`);
    expect(new Set(own.body.items.map((item: { metric: string }) => item.metric))).toEqual(
      new Set(["DCGM_FI_DEV_GPU_TEMP"]),
    );
    const summary = await fixture.get(`/api/v1/gpus/${gpuM}:mig2/telemetry/summary?${window}&step=1m&agg=max`);
    expect(summary.status).toBe(200);
    expect(summary.body.gpu).toBe(`${gpuM}:mig2`);
    expect(summary.body.series.map((series: { metric: string }) => series.metric)).toEqual(["DCGM_FI_DEV_FB_USED"]);
    expect(Math.max(...summary.body.series[0].points.map((p: { value: number }) => p.value))).toBe(2_000 + seconds - 1);
  });

  test("an unknown instance is a 404 naming it; a malformed one a 400", async () => {
    const missing = await fixture.get(`/api/v1/gpus/${gpuM}:mig9`);
    expect(missing.status).toBe(404);
    expect(missing.body.details[0].problem).toContain("MIG instance 9");
    expect((await fixture.get(`/api/v1/gpus/${gpuM}:mig9/telemetry?${window}`)).status).toBe(404);
    expect((await fixture.get(`/api/v1/gpus/${gpuM}:mig9/telemetry/summary`)).status).toBe(404);
    const malformed = await fixture.get(`/api/v1/gpus/${gpuM}:mig${enc("a/b")}`);
    expect(malformed.status).toBe(400);
    expect(malformed.body.details[0].field).toBe("id");
  });

  test("the fleet carries each GPU's instances with values aligned to the metric list", async () => {
    const { body } = await fixture.get("/api/v1/fleet?metric=DCGM_FI_DEV_FB_USED,DCGM_FI_DEV_GPU_TEMP");
    const m = body.items.find((gpu: { uuid: string }) => gpu.uuid === gpuM);
    expect(m.values).toEqual([null, 30 + seconds - 1]);
    expect(
      m.mig_instances.map((instance: { id: string; pod: string; values: unknown[] }) => [
        instance.id,
        instance.pod,
        instance.values,
      ]),
    ).toEqual([
      [`${gpuM}:mig1`, "train-a", [1_000 + seconds - 1, null]],
      [`${gpuM}:mig2`, "infer-b", [2_000 + seconds - 1, null]],
    ]);
  });
});

describe("workload filters", () => {
  test("GPUs by namespace, pod and container match the GPU itself or one of its MIG instances", async () => {
    const list = async (query: string) => uuids((await fixture.get(`/api/v1/gpus?${query}`)).body.items);
    expect(await list("pod=infer-b")).toEqual([gpuM]);
    expect(await list("pod=job-p")).toEqual([gpuP]);
    expect(await list("pod=job-early")).toEqual([]);
    expect(await list("namespace=ml")).toEqual([gpuM, gpuP].sort());
    expect(await list("namespace=ml&pod=infer-b")).toEqual([]);
    expect(await list("namespace=serve&container=server")).toEqual([gpuM]);
    expect(await list("namespace=")).toEqual([gpuN]);
    expect(await list("model=NVIDIA%20A100-SXM4-80GB&pod=job-p")).toEqual([gpuP]);
    const fleet = async (query: string) => uuids((await fixture.get(`/api/v1/fleet?${query}`)).body.items);
    expect(await fleet("pod=infer-b")).toEqual([gpuM]);
    expect(await fleet("namespace=")).toEqual([gpuN]);
    expect(await fleet("container=main")).toEqual([gpuM, gpuP]);
  });

  test("a GPU list filtered by workload pages with cursors like any other", async () => {
    const first = await fixture.get("/api/v1/gpus?namespace=ml&limit=1");
    expect(first.body.items).toHaveLength(1);
    const second = await fixture.get(`/api/v1/gpus?namespace=ml&limit=1&cursor=${enc(first.body.next_cursor)}`);
    expect([...uuids(first.body.items), ...uuids(second.body.items)]).toEqual([gpuM, gpuP].sort());
    expect(second.body.next_cursor).toBeNull();
    const otherFilter = await fixture.get(`/api/v1/gpus?namespace=serve&limit=1&cursor=${enc(first.body.next_cursor)}`);
    expect(otherFilter.status).toBe(400);
  });

  test("telemetry by pod: only the datapoints measured for it, each saying which", async () => {
    const { body } = await fixture.get(`/api/v1/gpus/${gpuP}/telemetry?${window}&pod=job-early`);
    expect(body.items).toHaveLength(30);
    expect(new Set(body.items.map((item: { pod: string }) => item.pod))).toEqual(new Set(["job-early"]));
    const all = await fixture.get(`/api/v1/gpus/${gpuP}/telemetry?${window}&namespace=ml`);
    expect(all.body.items).toHaveLength(seconds);
    expect((await fixture.get(`/api/v1/gpus/${gpuP}/telemetry?${window}&pod=`)).body.items).toEqual([]);
  });
});

describe("metrics outside the catalog and epoch milliseconds", () => {
  test("any DCGM_FI_* field is listed when stored and accepted as a filter", async () => {
    const { body } = await fixture.get("/api/v1/metrics");
    expect(body.items.find((metric: { name: string }) => metric.name === fp64)).toEqual({
      name: fp64,
      unit: "",
      kind: "unknown",
      description: "",
      in_catalog: false,
      has_data: true,
    });
    const page = await fixture.get(`/api/v1/gpus/${gpuN}/telemetry?${window}&metric=${fp64}`);
    expect(page.body.items).toHaveLength(seconds);
    expect(page.body.items[0]).toMatchObject({ metric: fp64, unit: "" });
    const fleet = await fixture.get(`/api/v1/fleet?metric=${fp64}`);
    expect(fleet.body.metrics).toEqual([{ name: fp64, unit: "" }]);
    expect((await fixture.get(`/api/v1/gpus/${gpuN}/telemetry?metric=DCGM_FI_NOT_REPORTED`)).body.items).toEqual([]);
  });

  test("epoch-millisecond bounds name the same window as RFC 3339 ones, on every time parameter", async () => {
    const [start, end] = [baseMs + 10_000, baseMs + 20_000];
    for (const path of [`/api/v1/gpus/${gpuP}/telemetry`, `/api/v1/gpus/${gpuP}/telemetry/summary`]) {
      const rfc = await fixture.get(`${path}?start_time=${iso(start)}&end_time=${iso(end)}`);
      const epoch = await fixture.get(`${path}?start_time=${start}&end_time=${end}`);
      expect(epoch.status).toBe(200);
      expect(epoch.body).toEqual(rfc.body);
    }
    const mixed = await fixture.get(`/api/v1/gpus/${gpuP}/telemetry?start_time=${start}&end_time=${iso(end)}`);
    expect(mixed.body.items).toHaveLength(11);
  });
});
