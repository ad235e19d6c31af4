import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDirectoryAsync, isTemporaryFile, unlinkDurably, writeFileAtomicAsync } from "../files/atomic-file.ts";
import { DiskFullError, isDiskFull } from "../files/disk-full.ts";
import { type GroupCheckpoint, groupCheckpointValidator } from "./group-checkpoint.ts";

/**
 * One file per group, `<group>.group.json`, replaced atomically (atomic-file.ts). A
 * round of writes fsyncs the directory once for all its files. A crash leaves either
 * the old or the new file plus maybe a temporary, which open() deletes.
 */
export const checkpointSuffix = ".group.json";

export class CheckpointStore {
  private constructor(
    readonly directory: string,
    readonly checkpointBytesMax: number,
  ) {}

  /** Creates the directory if needed, removes crash leftovers, reads every checkpoint. */
  static async open(options: {
    directory: string;
    checkpointBytesMax: number;
  }): Promise<{ store: CheckpointStore; checkpoints: GroupCheckpoint[] }> {
    await mkdir(options.directory, { recursive: true });
    const store = new CheckpointStore(options.directory, options.checkpointBytesMax);
    const checkpoints: GroupCheckpoint[] = [];
    const names = (await readdir(options.directory)).sort();
    for (const name of names) {
      if (isTemporaryFile(name)) await unlink(join(options.directory, name));
      else if (name.endsWith(checkpointSuffix)) checkpoints.push(await store.read(name));
    }
    return { store, checkpoints };
  }

  private async read(name: string): Promise<GroupCheckpoint> {
    const path = join(this.directory, name);
    const text = await readFile(path, "utf8");
    if (text.length > this.checkpointBytesMax) {
      throw new Error(
        `group checkpoint ${path}: ${text.length} bytes exceed checkpointBytesMax ${this.checkpointBytesMax}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`group checkpoint ${path} is not JSON: ${(error as Error).message}`);
    }
    if (!groupCheckpointValidator.Check(parsed)) {
      const first = groupCheckpointValidator.Errors(parsed).First();
      throw new Error(`group checkpoint ${path} is malformed at ${first?.path}: ${first?.message}`);
    }
    const expectedName = parsed.group + checkpointSuffix;
    if (expectedName !== name) throw new Error(`group checkpoint ${path} holds group ${parsed.group}`);
    return parsed;
  }

  /** Makes all these checkpoints durable; returns once every file and the directory are fsynced. */
  async writeAll(checkpoints: readonly GroupCheckpoint[]): Promise<void> {
    if (checkpoints.length === 0) return;
    await Promise.all(checkpoints.map((checkpoint) => this.writeOne(checkpoint)));
    await fsyncDirectoryAsync(this.directory);
  }

  private async writeOne(checkpoint: GroupCheckpoint): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(checkpoint));
    const path = join(this.directory, checkpoint.group + checkpointSuffix);
    if (bytes.byteLength > this.checkpointBytesMax) {
      throw new Error(
        `group checkpoint ${path}: ${bytes.byteLength} bytes exceed checkpointBytesMax ${this.checkpointBytesMax}`,
      );
    }
    try {
      await writeFileAtomicAsync(path, bytes, { fsyncDirectory: false });
    } catch (error) {
      // Named, so a commit refused meanwhile says which write the disk refused.
      if (isDiskFull(error)) throw new DiskFullError(`writing the checkpoint of group ${checkpoint.group} (${path})`);
      throw error;
    }
  }

  /** Deletes the group's file; a group never written has none. */
  async remove(group: string): Promise<void> {
    await unlinkDurably(join(this.directory, group + checkpointSuffix));
  }
}
