import { type Static, type TObject, type TSchema, Type } from "@sinclair/typebox";
import {
  CreateTopicBody,
  DeleteTopicQuery,
  DeleteTopicResponse,
  FetchQuery,
  ProduceResponse,
  ProducerIdResponse,
  TopicInfo,
  TopicList,
} from "./api-schemas.ts";
import {
  CommitOffsetsRequest,
  CommitOffsetsResponse,
  DeleteGroupResponse,
  GroupDetail,
  GroupListing,
  GroupName,
  GroupOffsets,
  HeartbeatRequest,
  JoinGroupRequest,
  LeaveGroupRequest,
  LeaveGroupResponse,
  MemberAssignment,
  ResetOffsetsRequest,
  ResetOffsetsResult,
  TopicName,
} from "./group-protocol.ts";

/**
 * The broker's HTTP API as data: every route once, with its method, path template,
 * schemas and the scopes a caller needs. The broker registers its routes from this
 * table and the clients build their requests from it, so a path, a parameter or a
 * query name exists in one place. (/health, /ready, /metrics and /swagger are not
 * here: they are every process's operational routes and need no token.)
 */

/**
 * What a bearer token may do (design: security model). `consume` covers group
 * membership, fetches and commits (a consume token may be limited to named groups:
 * then every route with a `:group` answers 403 for the others); `admin` covers topics
 * and groups as a whole (creating and deleting topics, deleting groups, moving offsets). Reading topic metadata
 * needs any scope. Every route names the scopes of which one suffices.
 */
export type BrokerScope = "produce" | "consume" | "admin";

export const brokerScopes: readonly BrokerScope[] = ["produce", "consume", "admin"];

/** The path parameter a group-limited consume token is checked against. */
export const groupLimitParam = "group";

export interface RouteSpec {
  readonly method: "GET" | "POST" | "DELETE";
  /** Path template; each `:name` segment is a member of `params`. */
  readonly path: string;
  /** A request needs a token carrying at least one of these scopes. */
  readonly scopes: readonly BrokerScope[];
  readonly params?: TObject;
  readonly query?: TObject;
  /** JSON request body; a route without one takes no body or a binary one (`binary`). */
  readonly body?: TSchema;
  /** Status of a successful answer. */
  readonly status: 200 | 201;
  /** JSON body of a successful answer; a route without one answers binary (`binary`). */
  readonly response?: TSchema;
  /** Which side of the exchange is raw bytes rather than JSON. */
  readonly binary?: "request" | "response";
  /** Swagger grouping and one line for people. */
  readonly tag: "topics" | "produce" | "fetch" | "groups";
  readonly summary: string;
}

/** Liveness of the broker process: an operational route like every process's, outside the table and token-free. */
export const healthPath = "/health";

export const TopicParams = Type.Object({ topic: Type.String() });
export const PartitionParams = Type.Object({ topic: Type.String(), partition: Type.Integer({ minimum: 0 }) });
export const GroupParams = Type.Object({ group: GroupName });
export const GroupOffsetsQuery = Type.Object({ topic: TopicName });

const anyScope = ["produce", "consume", "admin"] as const;

export const brokerRoutes = {
  listTopics: {
    method: "GET",
    path: "/v1/topics",
    scopes: anyScope,
    status: 200,
    response: TopicList,
    tag: "topics",
    summary: "List topics",
  },
  createTopic: {
    method: "POST",
    path: "/v1/topics",
    scopes: ["admin"],
    body: CreateTopicBody,
    status: 201,
    response: TopicInfo,
    tag: "topics",
    summary: "Create a topic (409 topic_exists when it does)",
  },
  describeTopic: {
    method: "GET",
    path: "/v1/topics/:topic",
    scopes: anyScope,
    params: TopicParams,
    status: 200,
    response: TopicInfo,
    tag: "topics",
    summary: "Describe a topic: per partition start, high watermark, size",
  },
  deleteTopic: {
    method: "DELETE",
    path: "/v1/topics/:topic",
    scopes: ["admin"],
    params: TopicParams,
    query: DeleteTopicQuery,
    status: 200,
    response: DeleteTopicResponse,
    tag: "topics",
    summary:
      "Delete a topic, its partitions' files and the groups' committed offsets of it (409 topic_in_use while a group member subscribes to it; 409 topic_protected for a protected topic without force=true)",
  },
  produce: {
    method: "POST",
    path: "/v1/topics/:topic/produce",
    scopes: ["produce"],
    params: TopicParams,
    status: 200,
    response: ProduceResponse,
    binary: "request",
    tag: "produce",
    summary:
      "Append batches: frames [u32 partition][u32 length][record batch], big-endian (an empty body creates the topic when auto-create is on)",
  },
  fetch: {
    method: "GET",
    path: "/v1/topics/:topic/partitions/:partition/fetch",
    scopes: ["consume"],
    params: PartitionParams,
    query: FetchQuery,
    status: 200,
    binary: "response",
    tag: "fetch",
    summary: "Raw batches from an offset; long-polls up to wait_ms at the end of the log",
  },
  allocateProducerId: {
    method: "POST",
    path: "/v1/producers",
    scopes: ["produce"],
    status: 200,
    response: ProducerIdResponse,
    tag: "produce",
    summary: "Allocate an idempotent producer id (never reused)",
  },
  listGroups: {
    method: "GET",
    path: "/v1/groups",
    scopes: ["consume", "admin"],
    status: 200,
    response: GroupListing,
    tag: "groups",
    summary: "List consumer groups",
  },
  describeGroup: {
    method: "GET",
    path: "/v1/groups/:group",
    scopes: ["consume", "admin"],
    params: GroupParams,
    status: 200,
    response: GroupDetail,
    tag: "groups",
    summary: "Describe a group: members, assignment, offsets, lag per partition",
  },
  groupOffsets: {
    method: "GET",
    path: "/v1/groups/:group/offsets",
    scopes: ["consume", "admin"],
    params: GroupParams,
    query: GroupOffsetsQuery,
    status: 200,
    response: GroupOffsets,
    tag: "groups",
    summary: "Committed offsets of one topic and the reset policy",
  },
  resetGroupOffsets: {
    method: "POST",
    path: "/v1/groups/:group/offsets",
    scopes: ["admin"],
    params: GroupParams,
    body: ResetOffsetsRequest,
    status: 200,
    response: ResetOffsetsResult,
    tag: "groups",
    summary:
      "Move committed offsets of partitions no member owns (409 partition_owned otherwise): to an offset, a time or an end of the log; dryRun only answers the plan",
  },
  deleteGroup: {
    method: "DELETE",
    path: "/v1/groups/:group",
    scopes: ["admin"],
    params: GroupParams,
    status: 200,
    response: DeleteGroupResponse,
    tag: "groups",
    summary: "Delete a group and its committed offsets; only a group without members (400 otherwise)",
  },
  joinGroup: {
    method: "POST",
    path: "/v1/groups/:group/join",
    scopes: ["consume"],
    params: GroupParams,
    body: JoinGroupRequest,
    status: 200,
    response: MemberAssignment,
    tag: "groups",
    summary: "Join (no memberId) or rejoin; answers generation and assignment",
  },
  heartbeat: {
    method: "POST",
    path: "/v1/groups/:group/heartbeat",
    scopes: ["consume"],
    params: GroupParams,
    body: HeartbeatRequest,
    status: 200,
    response: MemberAssignment,
    tag: "groups",
    summary: "Sign of life; releases revoked partitions not in owned",
  },
  leaveGroup: {
    method: "POST",
    path: "/v1/groups/:group/leave",
    scopes: ["consume"],
    params: GroupParams,
    body: LeaveGroupRequest,
    status: 200,
    response: LeaveGroupResponse,
    tag: "groups",
    summary: "Leave: partitions move at once",
  },
  commitOffsets: {
    method: "POST",
    path: "/v1/groups/:group/commit",
    scopes: ["consume"],
    params: GroupParams,
    body: CommitOffsetsRequest,
    status: 200,
    response: CommitOffsetsResponse,
    tag: "groups",
    summary: "Commit offsets (current generation, owned partitions only)",
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteParams<R extends RouteSpec> = R extends { params: infer P extends TSchema } ? Static<P> : undefined;
export type RouteQuery<R extends RouteSpec> = R extends { query: infer Q extends TSchema } ? Static<Q> : undefined;
export type RouteBody<R extends RouteSpec> = R extends { body: infer B extends TSchema } ? Static<B> : undefined;
export type RouteResponse<R extends RouteSpec> = R extends { response: infer S extends TSchema } ? Static<S> : never;

/** A route with its path and query filled in: what a client sends. */
export interface RouteRequest<R extends RouteSpec = RouteSpec> {
  readonly route: R;
  readonly method: R["method"];
  /** Path and query string, every value URL-encoded. */
  readonly target: string;
}

/** A `:name` segment of a path template. */
const pathParamPattern = /:([A-Za-z_]+)/g;

/** Query strings longer than this are a bug in the caller (every query here has a few numbers). */
export const queryStringLengthMax = 2_048;

/** What a route needs filled in: its path parameters, then its query (when it has them). */
export type RouteArgs<R extends RouteSpec> = R extends { params: TSchema }
  ? R extends { query: TSchema }
    ? [params: RouteParams<R>, query: RouteQuery<R>]
    : [params: RouteParams<R>]
  : [];

/**
 * Fills a route's path template from its params and appends its query in the order
 * the route's query schema declares it (undefined values left out). Every request a
 * client sends goes through here, so paths and query names exist only in the table.
 */
export function routeRequest<R extends RouteSpec>(route: R, ...args: RouteArgs<R>): RouteRequest<R> {
  const [params, query] = args as [Record<string, unknown>?, Record<string, unknown>?];
  const path = route.path.replace(pathParamPattern, (_, name: string) => encodeParam(route, name, params?.[name]));
  const search = query === undefined ? "" : queryString(route, query);
  return { route, method: route.method, target: search === "" ? path : `${path}?${search}` };
}

function encodeParam(route: RouteSpec, name: string, value: unknown): string {
  if (typeof value !== "string" && typeof value !== "number") {
    throw new Error(`${route.method} ${route.path}: path parameter "${name}" missing`);
  }
  const text = String(value);
  if (text.length === 0) throw new Error(`${route.method} ${route.path}: path parameter "${name}" is empty`);
  return encodeURIComponent(text);
}

function queryString(route: RouteSpec, query: Record<string, unknown>): string {
  const declared = route.query?.properties;
  if (declared === undefined) throw new Error(`${route.method} ${route.path} takes no query`);
  for (const name of Object.keys(query)) {
    if (!(name in declared)) throw new Error(`${route.method} ${route.path}: no query parameter "${name}"`);
  }
  const parts: string[] = [];
  for (const name of Object.keys(declared)) {
    const value = query[name];
    if (value === undefined) continue;
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
  }
  const search = parts.join("&");
  if (search.length > queryStringLengthMax) {
    throw new Error(`${route.method} ${route.path}: query of ${search.length} chars exceeds ${queryStringLengthMax}`);
  }
  return search;
}

/** Names of a path template's parameters, in order (a test holds them equal to each route's `params`). */
export function pathParamNames(path: string): string[] {
  return [...path.matchAll(pathParamPattern)].map((match) => match[1] as string);
}
