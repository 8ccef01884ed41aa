/**
 * What is left to write after a vectored write wrote only `written` bytes of `chunks` (a short
 * write: rare, but the kernel may do it, and losing the rest would corrupt the file).
 */
export function unwritten<T extends Uint8Array>(chunks: T[], written: number): T[] {
  let skip = written;
  const rest: T[] = [];
  for (const c of chunks) {
    if (skip >= c.length) skip -= c.length;
    else {
      rest.push(skip ? (c.subarray(skip) as T) : c);
      skip = 0;
    }
  }
  return rest;
}
