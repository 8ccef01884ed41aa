import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { Header, Pax, type HeaderData } from 'tar';
import { UserError } from '../util/errors.js';
import { BLOCK, padding } from '../archive/tar-headers.js';

/** Where one regular file's bytes lie in a tar. */
export interface TarEntry {
  offset: number;
  size: number;
}

/** Extended headers are records of a few paths and numbers; more is not a tar we wrote or read. */
const MAX_EXTENDED_HEADER = 1 << 20;

/**
 * Lists a tar's regular files by reading only its headers and seeking over the data, so a
 * multi-gigabyte archive is indexed in milliseconds. Understands ustar, PAX (`x`, `g`) and GNU
 * long names (`L`); hard and symbolic links resolve to their target's bytes (docker save links
 * layers shared by several images).
 */
export async function readTarIndex(path: string): Promise<Map<string, TarEntry>> {
  const fh = await open(path, 'r');
  const entries = new Map<string, TarEntry>();
  const links: [string, string][] = [];
  const bad = (why: string) =>
    new UserError(`not a tar archive, or a damaged one: ${why}`, { code: 'malformed', file: path });
  try {
    const { size: total } = await fh.stat();
    const block = Buffer.alloc(BLOCK);
    let at = 0;
    let extended: HeaderData | undefined;
    let global: HeaderData | undefined;
    let longName: string | undefined;
    const readBody = async (size: number) => {
      if (size > MAX_EXTENDED_HEADER) throw bad(`an extended header of ${size} bytes at byte ${at}`);
      const body = Buffer.alloc(size);
      await fh.read(body, 0, size, at + BLOCK);
      return body.toString('utf8');
    };
    while (at + BLOCK <= total) {
      await fh.read(block, 0, BLOCK, at);
      if (block.every((b) => b === 0)) break;
      const header = new Header(block, 0, extended, global);
      if (!header.cksumValid) throw bad(`bad header checksum at byte ${at}`);
      const size = header.size ?? 0;
      const type = header.type;
      if (type === 'ExtendedHeader') extended = Pax.parse(await readBody(size), extended);
      else if (type === 'GlobalExtendedHeader') global = Pax.parse(await readBody(size), global, true);
      else if (type === 'NextFileHasLongPath') longName = (await readBody(size)).replace(/\0.*$/s, '');
      else {
        const name = normalise(longName ?? header.path ?? '');
        if (type === 'File' || type === 'OldFile' || type === 'ContiguousFile') {
          entries.set(name, { offset: at + BLOCK, size });
        } else if ((type === 'Link' || type === 'SymbolicLink') && header.linkpath) {
          const target = type === 'Link' ? header.linkpath : posix.join(posix.dirname(name), header.linkpath);
          links.push([name, normalise(target)]);
        }
        extended = undefined;
        longName = undefined;
      }
      at += BLOCK + size + padding(size);
    }
    if (at > total) throw bad(`it ends inside an entry (${total} bytes, entry data up to byte ${at})`);
  } finally {
    await fh.close();
  }
  for (const [name, target] of links) {
    const entry = entries.get(target);
    if (entry) entries.set(name, entry);
  }
  return entries;
}

/** `./a/b` and `a/b` name the same file. */
function normalise(name: string): string {
  return posix
    .normalize(name)
    .replace(/^(\.\/)+/, '')
    .replace(/^\/+/, '');
}
