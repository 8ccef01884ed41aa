import { Header } from 'tar';

export const BLOCK = 512;
/** The largest size a ustar header's 11 octal digits hold (8 GiB - 1). */
export const USTAR_MAX_SIZE = 0o77777777777;
/** Fixed metadata so the same entries always give the same bytes. */
const FIXED = { uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0) };

export interface EntryHeader {
  path: string;
  type: 'File' | 'Directory';
  mode: number;
  size: number;
}

function ustar(data: Omit<EntryHeader, 'type'> & { type: EntryHeader['type'] | 'ExtendedHeader' }): Buffer {
  const block = Buffer.alloc(BLOCK);
  const header = new Header({ ...FIXED, ...data });
  if (header.encode(block)) throw new Error(`tar entry cannot be encoded as ustar: ${data.path}`);
  return block;
}

/** One PAX record: its length counts its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (`${length}${body}`.length !== length) length++;
  return `${length}${body}`;
}

/**
 * The blocks in front of an entry's data: a ustar header, preceded by a PAX extended header
 * carrying `size` when the size does not fit ustar's field (8 GiB and more) or when `pax` asks
 * for one. As Go's archive/tar (and so `docker save`) does, the ustar size field is then 0 and
 * readers take the PAX record.
 */
export function entryHeader(entry: EntryHeader, pax = entry.size > USTAR_MAX_SIZE): Buffer {
  if (!pax) return ustar(entry);
  const records = Buffer.from(paxRecord('size', String(entry.size)));
  const slash = entry.path.lastIndexOf('/');
  const paxPath = `${entry.path.slice(0, slash + 1)}PaxHeaders.0/${entry.path.slice(slash + 1)}`.slice(0, 99);
  const body = Buffer.alloc(BLOCK * Math.ceil(records.length / BLOCK));
  records.copy(body);
  return Buffer.concat([
    ustar({ path: paxPath, type: 'ExtendedHeader', mode: 0o644, size: records.length }),
    body,
    ustar({ ...entry, size: entry.size > USTAR_MAX_SIZE ? 0 : entry.size }),
  ]);
}

/** Zero bytes that end an entry's data on a block boundary. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
