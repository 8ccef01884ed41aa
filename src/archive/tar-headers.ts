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

type UstarFields = Omit<EntryHeader, 'type'> & { type: EntryHeader['type'] | 'ExtendedHeader' };

/** node-tar's encoding of a header: the reference the fast path below reproduces byte for byte. */
export function encodeUstar(data: UstarFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  const header = new Header({ ...FIXED, ...data });
  if (header.encode(block)) throw new Error(`tar entry cannot be encoded as ustar: ${data.path}`);
  return block;
}

/** A field as node-tar writes it: zero-padded octal, then a space and a NUL (or just a NUL). */
function octal(n: number, width: number): string {
  const digits = n.toString(8);
  return digits.length === width - 1 ? `${digits}\0` : `${digits.padStart(width - 2, '0')} \0`;
}

const templates = new Map<string, Buffer>();

/**
 * Headers differ only in name, size and checksum: filling a template is many times cheaper
 * than encoding every field, which showed in archives of thousands of small blobs.
 */
function ustar(data: UstarFields): Buffer {
  if (data.path.length >= 100 || !/^[\x20-\x7e]*$/.test(data.path)) return encodeUstar(data);
  const key = `${data.type}:${data.mode}`;
  let template = templates.get(key);
  if (!template) templates.set(key, (template = encodeUstar({ ...data, path: '', size: 0 })));
  const block = Buffer.from(template);
  block.write(data.path, 0, 'latin1');
  block.write(octal(data.size, 12), 124, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] as number;
  block.write(octal(sum, 8), 148, 'latin1');
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
