/**
 * The disk space a directory's own files take, as `du -s` counts it: the
 * blocks allocated to every file under it (512-byte units of `st_blocks`;
 * the apparent size where a platform has no block count), each hard-linked
 * file once, symbolic links not followed, what cannot be read skipped. For
 * the System page's "DATA_DIR" figure, which is Loupe's data, not the file
 * system it sits on.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Bytes the files under `dir` take on disk; 0 when `dir` cannot be read. Stops early (with what it counted) when `signal` aborts. */
export async function dirSize(dir: string, signal?: AbortSignal): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    if (signal?.aborted) break;
    const here = stack.pop()!;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(here, { withFileTypes: true });
    } catch {
      continue; // gone meanwhile, or not ours to read (PostgreSQL's folder under another user)
    }
    for (const e of entries) {
      const full = path.join(here, e.name);
      try {
        const st = await fs.lstat(full, { bigint: true });
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        total += st.blocks > 0n ? Number(st.blocks) * 512 : st.isFile() ? Number(st.size) : 0;
        if (st.isDirectory()) stack.push(full);
      } catch {
        // removed between the listing and the stat
      }
    }
  }
  return total;
}
