/** A bearer token, or a function answering the current one (a token file that rotates). */
export type BearerToken = string | (() => string);

/** Where the broker is and what a client presents to it: every client's options carry these. */
export interface BrokerConnection {
  brokerUrl: string;
  /** Sent as `Authorization: Bearer <token>` with every request; none when undefined. */
  token?: BearerToken | undefined;
}
