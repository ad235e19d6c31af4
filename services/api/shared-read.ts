/**
 * One read shared by every caller that asked before it started. A caller arriving
 * while a read runs does not join it (that read may predate the caller's request, so
 * its answer could be older than the request); it waits for the next read, which starts
 * when the running one ends and is shared by everyone who arrived meanwhile. So each
 * caller gets an answer read after it asked, and under load the reads do not pile up:
 * at most one runs and one waits, however many callers there are.
 */
export class SharedRead<T> {
  private running: Promise<T> | undefined;
  private next: PromiseWithResolvers<T> | undefined;

  constructor(private readonly read: () => Promise<T>) {}

  get(): Promise<T> {
    if (this.next !== undefined) return this.next.promise;
    if (this.running === undefined) return this.start();
    this.next = Promise.withResolvers<T>();
    return this.next.promise;
  }

  private start(): Promise<T> {
    let running: Promise<T>;
    try {
      running = this.read();
    } catch (error) {
      running = Promise.reject(error);
    }
    this.running = running;
    const settle = () => {
      if (this.running !== running) throw new Error("SharedRead: a read settled that is not the running one");
      this.running = undefined;
      const waiting = this.next;
      this.next = undefined;
      if (waiting !== undefined) this.start().then(waiting.resolve, waiting.reject);
    };
    running.then(settle, settle);
    return running;
  }
}
