import { describe, expect, test } from "bun:test";
import { brokerRoutes, pathParamNames, type RouteSpec, routeRequest } from "../../../src/broker-protocol/routes.ts";

const routes: Array<[string, RouteSpec]> = Object.entries(brokerRoutes);

describe("the broker's route table", () => {
  test("each path parameter of a template is in the route's params schema, and nothing else is", () => {
    for (const [name, route] of routes) {
      const declared = Object.keys(route.params?.properties ?? {}).sort();
      expect({ name, params: pathParamNames(route.path).sort() }).toEqual({ name, params: declared });
    }
  });

  test("no two routes share a method and path; every route needs at least one scope", () => {
    const keys = routes.map(([, route]) => `${route.method} ${route.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const [, route] of routes) expect(route.scopes.length).toBeGreaterThan(0);
  });

  test("a route answers JSON, or declares its binary side", () => {
    for (const [name, route] of routes) {
      const answersJson = route.response !== undefined;
      expect({ name, answersJson }).toEqual({ name, answersJson: route.binary !== "response" });
    }
  });
});

describe("routeRequest", () => {
  test("fills the path, URL-encoded, and writes the query in the schema's order without undefined values", () => {
    const request = routeRequest(
      brokerRoutes.fetch,
      { topic: "a b/c", partition: 3 },
      { wait_ms: 500, offset: 42, max_bytes: undefined },
    );
    expect(request.method).toBe("GET");
    expect(request.target).toBe("/v1/topics/a%20b%2Fc/partitions/3/fetch?offset=42&wait_ms=500");
    expect(routeRequest(brokerRoutes.listTopics).target).toBe("/v1/topics");
    expect(routeRequest(brokerRoutes.groupOffsets, { group: "g" }, { topic: "t.x" }).target).toBe(
      "/v1/groups/g/offsets?topic=t.x",
    );
  });

  test("a missing path parameter or an unknown query name is the caller's bug, said at once", () => {
    expect(() => routeRequest(brokerRoutes.describeTopic, { topic: "" })).toThrow('path parameter "topic" is empty');
    expect(() => routeRequest(brokerRoutes.describeTopic, {} as { topic: string })).toThrow(
      'path parameter "topic" missing',
    );
    const unknown = { offset: 1, max: 5 } as unknown as { offset: number };
    expect(() => routeRequest(brokerRoutes.fetch, { topic: "t", partition: 0 }, unknown)).toThrow(
      'no query parameter "max"',
    );
  });
});
