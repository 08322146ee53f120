/**
 * Data at rest is the operator's only: directories the hub keeps data in are 0700 and its files
 * 0600, whatever the umask. An existing directory is tightened when this process owns it (a
 * directory of someone else's is left alone: chmod would fail, and it is theirs to set).
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

function ownedByUs(uid: number): boolean {
  return typeof process.getuid !== 'function' || process.getuid() === uid;
}

/** Creates `dir` (and parents) 0700, or tightens it to 0700; returns true when it changed a mode. */
export function ensurePrivateDir(dir: string): boolean {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const st = statSync(dir);
  if ((st.mode & 0o077) === 0 || !ownedByUs(st.uid)) return false;
  chmodSync(dir, DIR_MODE);
  return true;
}

/**
 * Creates `file` empty with mode 0600 when missing, else tightens it to 0600. SQLite gives its WAL
 * and shared-memory files the database file's mode, so a 0600 database keeps them 0600 too.
 */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', FILE_MODE));
  tightenFile(file);
}

/** Tightens an existing file to 0600 (missing files are fine). */
export function tightenFile(file: string): void {
  let st;
  try {
    st = statSync(file);
  } catch {
    return;
  }
  if ((st.mode & 0o077) !== 0 && ownedByUs(st.uid)) chmodSync(file, FILE_MODE);
}
