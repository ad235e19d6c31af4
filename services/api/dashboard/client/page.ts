/** A page the router mounts into the main element and unmounts when the hash changes. */
export interface Page {
  unmount(): void;
}
